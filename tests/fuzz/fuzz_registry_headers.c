/* libFuzzer harness for what a registry sends in response headers:
 *  1. The input as lines, each handed over as libcurl does to the header
 *     callback (its bytes up to and with the '\n', not NUL-terminated):
 *     registry_status_code() and registry_header_value() for the headers
 *     the client reads; a WWW-Authenticate value is then parsed.
 *  2. The whole input as one WWW-Authenticate value:
 *     registry_parse_www_authenticate() must fail with -EINVAL and leave
 *     nothing allocated, or give a non-empty scheme without blanks.
 *
 * make fuzz (build-fuzz/fuzz/fuzz_registry_headers, seeds in
 * tests/fuzz/corpus/registry_headers/).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void www_authenticate(const char *v)
{
	struct www_auth wa;
	int ret = registry_parse_www_authenticate(v, &wa);

	if (ret == 0) {
		if (!wa.scheme || !wa.scheme[0] || strpbrk(wa.scheme, " \t"))
			abort();
		www_auth_release(&wa);
	} else if (ret != -EINVAL || wa.scheme || wa.realm || wa.service || wa.scope) {
		abort();
	}
}

static void header_line(const uint8_t *data, size_t n)
{
	static const char *const names[] = {"Content-Type", "Docker-Content-Digest",
					    "WWW-Authenticate", "Location", "Content-Range"};
	/* An exact copy, so that ASan sees a read past the line's end. */
	char *line = malloc(n ? n : 1);
	long code;

	memcpy(line, data, n);
	code = registry_status_code(line, n);
	if (code < -1 || (code >= 0 && (n <= 5 || memcmp(line, "HTTP/", 5))))
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *v = registry_header_value(line, n, names[i]);
		if (v && strlen(v) >= n)
			abort();
		if (v && i == 2)
			www_authenticate(v);
		free(v);
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, n;
	const uint8_t *nl;
	char *s;

	while (off < size) {
		nl = memchr(data + off, '\n', size - off);
		n = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
		header_line(data + off, n);
		off += n;
	}
	s = strndup((const char *)data, size);
	www_authenticate(s);
	free(s);
	return 0;
}
