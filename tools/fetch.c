/* fetch — one http(s) download with libcurl, hashed as it is written. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "fetch.h"

struct sink {
	int fd;
	EVP_MD_CTX *md;
	uint64_t n, max;
	int err; /* errno of a failed write, or EFBIG */
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	size_t len = size * nmemb, done = 0;
	if (k->n + len > k->max) {
		k->err = EFBIG;
		return 0;
	}
	while (done < len) {
		ssize_t w = write(k->fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			k->err = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	EVP_DigestUpdate(k->md, p, len);
	k->n += len;
	return len;
}

static void setup(CURL *c, const char *url, struct sink *k, char *ebuf)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "layerfs/0.1");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
}

int fetch_url(const char *url, int fd, uint64_t max, char sha256_hex[65], time_t *mtime,
	      error **err)
{
	CURL *c = curl_easy_init();
	if (!c)
		return error_make(err, ENOMEM, "downloading %s", url);
	struct sink k = {fd, EVP_MD_CTX_new(), 0, max, 0};
	EVP_DigestInit_ex(k.md, EVP_sha256(), NULL);
	char ebuf[CURL_ERROR_SIZE] = "";
	setup(c, url, &k, ebuf);
	CURLcode rc = curl_easy_perform(c);
	long status = 0, ft = -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_FILETIME, &ft);
	curl_easy_cleanup(c);
	unsigned char md[32];
	unsigned int len;
	EVP_DigestFinal_ex(k.md, md, &len);
	EVP_MD_CTX_free(k.md);
	if (k.err == EFBIG)
		return error_make(err, 0, "%s: larger than %llu bytes", url,
				  (unsigned long long)max);
	if (k.err)
		return error_make(err, k.err, "%s: writing the download", url);
	if (rc != CURLE_OK)
		return error_make(err, 0, "%s: %s", url, *ebuf ? ebuf : curl_easy_strerror(rc));
	if (status >= 400)
		return error_make(err, 0, "%s: the server answered HTTP %ld", url, status);
	for (int i = 0; i < 32; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", md[i]);
	*mtime = ft > 0 ? (time_t)ft : 0;
	return 0;
}
