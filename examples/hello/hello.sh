#!/bin/sh
# Prints the greeting and what the image was built with; with "serve",
# serves /app/www on port 8080 with busybox httpd.
echo "$GREETING"
cat /app/build-info.txt
if [ "${1:-}" = serve ]; then
	exec httpd -f -p 8080 -h /app/www
fi
