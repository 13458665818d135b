/* check_reference — docker-style reference normalisation, WWW-Authenticate
 * parsing, platform selection in image indexes and manifest checks: the
 * parsers of outside input used by pull, push and load. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"
#include "reference.h"
#include "registry.h"

static void expect_ref(const char *in, const char *full, const char *familiar)
{
	struct reference r;
	error *err = NULL;
	ck_assert_msg(reference_parse(in, &r, &err) == 0, "%s: %s", in, err ? err->msg : "");
	char *f = reference_full(&r), *s = reference_familiar(&r);
	ck_assert_str_eq(f, full);
	ck_assert_str_eq(s, familiar);
	free(f);
	free(s);
	reference_release(&r);
}

static void expect_bad(const char *in)
{
	struct reference r;
	error *err = NULL;
	ck_assert_msg(reference_parse(in, &r, &err) < 0, "%s parsed", in);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_int_eq(err->status, 2);
	error_free(err);
}

START_TEST(test_normalise)
{
	expect_ref("alpine", "docker.io/library/alpine:latest", "alpine:latest");
	expect_ref("alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19");
	expect_ref("user/app", "docker.io/user/app:latest", "user/app:latest");
	expect_ref("docker.io/library/busybox:1", "docker.io/library/busybox:1", "busybox:1");
	expect_ref("index.docker.io/x/y:z", "docker.io/x/y:z", "x/y:z");
	expect_ref("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest");
	expect_ref("localhost/app:1", "localhost/app:1", "localhost/app:1");
	expect_ref("quay.io/a/b/c:v1.2_x", "quay.io/a/b/c:v1.2_x", "quay.io/a/b/c:v1.2_x");
	expect_ref("127.0.0.1:5000/a__b-c.d", "127.0.0.1:5000/a__b-c.d:latest",
		   "127.0.0.1:5000/a__b-c.d:latest");
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char in[256], want[256];
	snprintf(in, sizeof(in), "alpine@%s", d);
	snprintf(want, sizeof(want), "docker.io/library/alpine@%s", d);
	expect_ref(in, want, in);
	snprintf(in, sizeof(in), "r.io/x:t@%s", d);
	expect_ref(in, in, in);
}
END_TEST

START_TEST(test_invalid)
{
	expect_bad("");
	expect_bad("Alpine");
	expect_bad("a/../b");
	expect_bad("a:");
	expect_bad("a:-x");
	expect_bad("a@sha256:123");
	expect_bad("a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
	expect_bad("host:port/x");
	expect_bad("a//b");
	expect_bad("-a");
	expect_bad("a_");
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	expect_bad(long_name);
}
END_TEST

START_TEST(test_host)
{
	struct reference r;
	error *err = NULL;
	ck_assert_int_eq(reference_parse("alpine", &r, &err), 0);
	ck_assert_str_eq(reference_registry_host(&r), "registry-1.docker.io");
	reference_release(&r);
	ck_assert(reference_host_is_loopback("localhost:5000"));
	ck_assert(reference_host_is_loopback("127.0.0.1:1"));
	ck_assert(reference_host_is_loopback("[::1]:5000"));
	ck_assert(!reference_host_is_loopback("localhost.evil.com"));
	ck_assert(!reference_host_is_loopback("quay.io"));
}
END_TEST

START_TEST(test_www_authenticate)
{
	struct www_auth a;
	ck_assert_int_eq(
	    registry_parse_www_authenticate(
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/alpine:pull\"",
		&a),
	    0);
	ck_assert_str_eq(a.scheme, "Bearer");
	ck_assert_str_eq(a.realm, "https://auth.docker.io/token");
	ck_assert_str_eq(a.service, "registry.docker.io");
	ck_assert_str_eq(a.scope, "repository:library/alpine:pull");
	www_auth_release(&a);
	ck_assert_int_eq(registry_parse_www_authenticate("Basic realm=\"a \\\"q\\\" b\"", &a), 0);
	ck_assert_str_eq(a.scheme, "Basic");
	ck_assert_str_eq(a.realm, "a \"q\" b");
	ck_assert_ptr_null(a.scope);
	www_auth_release(&a);
	ck_assert_int_eq(
	    registry_parse_www_authenticate("Bearer realm=tok , scope=\"x:y:pull,push\"", &a), 0);
	ck_assert_str_eq(a.realm, "tok");
	ck_assert_str_eq(a.scope, "x:y:pull,push");
	www_auth_release(&a);
	ck_assert_int_lt(registry_parse_www_authenticate("Bearer realm=\"unterminated", &a), 0);
	ck_assert_int_lt(registry_parse_www_authenticate("", &a), 0);
	ck_assert_int_lt(registry_parse_www_authenticate("Bearer novalue", &a), 0);
}
END_TEST

/* Header lines come from libcurl without a NUL: the parsers must stay
 * inside [line, line + n).  Each line is copied to a buffer of exactly its
 * length, so that ASan (make SANITIZE=address check) sees any overread. */
static char *exact(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n);
	memcpy(p, s, n);
	return p;
}

START_TEST(test_header_lines)
{
	char *l = exact("HTTP/1.1 206 Partial Content\r\n");
	ck_assert_int_eq(registry_status_code(l, 30), 206);
	free(l);
	l = exact("HTTP/2 200");
	ck_assert_int_eq(registry_status_code(l, 10), 200);
	free(l);
	/* Blanks after the space, then the end of the line: read nothing more. */
	l = exact("HTTP/2(206 \r\n");
	ck_assert_int_eq(registry_status_code(l, 13), 0);
	free(l);
	l = exact("HTTP/1.1 99999999999999999999");
	ck_assert_int_ge(registry_status_code(l, 29), 0);
	free(l);
	l = exact("Content-Type: text/plain\r\n");
	ck_assert_int_eq(registry_status_code(l, 26), -1);
	char *v = registry_header_value(l, 26, "content-type");
	ck_assert_str_eq(v, "text/plain");
	free(v);
	ck_assert_ptr_null(registry_header_value(l, 26, "Content-Length"));
	free(l);
}
END_TEST

static const char *INDEX =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"digest\":\"sha256:a\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
    "\"variant\":\"v6\"}},"
    "{\"digest\":\"sha256:b\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
    "\"variant\":\"v7\"}},"
    "{\"digest\":\"sha256:c\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"digest\":\"sha256:d\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";

static const char *pick(json_t *idx, const char *plat)
{
	struct platform p;
	error *err = NULL;
	ck_assert_int_eq(platform_parse(plat, &p, &err), 0);
	json_t *d = manifest_pick_platform(idx, &p, &err);
	platform_release(&p);
	if (!d) {
		ck_assert_ptr_nonnull(err);
		ck_assert_ptr_nonnull(strstr(err->msg, "linux/amd64"));
		error_free(err);
		return NULL;
	}
	return json_string_value(json_object_get(d, "digest"));
}

START_TEST(test_platform)
{
	json_t *idx = json_loads(INDEX, 0, NULL);
	ck_assert_str_eq(pick(idx, "linux/amd64"), "sha256:c");
	ck_assert_str_eq(pick(idx, "linux/arm/v7"), "sha256:b");
	ck_assert_str_eq(pick(idx, "linux/arm"), "sha256:a");
	ck_assert_str_eq(pick(idx, "windows/amd64"), "sha256:d");
	ck_assert_ptr_null(pick(idx, "linux/s390x"));
	json_decref(idx);
	struct platform p;
	error *err = NULL;
	ck_assert_int_lt(platform_parse("linux", &p, &err), 0);
	error_free(err);
	err = NULL;
	ck_assert_int_lt(platform_parse("linux/arm/v7/x", &p, &err), 0);
	error_free(err);
	ck_assert_int_eq(platform_parse(NULL, &p, NULL), 0);
	ck_assert_str_eq(p.os, "linux");
	platform_release(&p);
}
END_TEST

START_TEST(test_manifest)
{
	static const char *ok =
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"size\":2,\"digest\":"
	    "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":5,"
	    "\"digest\":\"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}]}";
	json_t *m = json_loads(ok, 0, NULL);
	error *err = NULL;
	ck_assert_int_eq(manifest_check_image(m, &err), 0);
	ck_assert_int_eq(manifest_kind_of(NULL, m), MANIFEST_IMAGE);
	json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "size",
			    json_integer(-1));
	ck_assert_int_lt(manifest_check_image(m, &err), 0);
	ck_assert_int_eq(err->code, EBADMSG);
	error_free(err);
	err = NULL;
	json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "digest",
			    json_string("sha256:../../etc/passwd"));
	ck_assert_int_lt(manifest_check_image(m, &err), 0);
	error_free(err);
	json_decref(m);
	const char *why;
	ck_assert(
	    manifest_layer_type_ok("application/vnd.docker.image.rootfs.diff.tar.gzip", &why));
	ck_assert(manifest_layer_type_ok("application/vnd.oci.image.layer.v1.tar+zstd", &why));
	ck_assert(!manifest_layer_type_ok("application/vnd.oci.image.layer.v1.tar+xz", &why));
	ck_assert_ptr_nonnull(strstr(why, "not a plain, gzip or zstd tar layer"));
	ck_assert_int_eq(
	    manifest_kind_of("application/vnd.docker.distribution.manifest.list.v2+json", NULL),
	    MANIFEST_INDEX);
}
END_TEST

static Suite *reference_suite(void)
{
	Suite *s = suite_create("reference");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_normalise);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_www_authenticate);
	tcase_add_test(tc, test_header_lines);
	tcase_add_test(tc, test_platform);
	tcase_add_test(tc, test_manifest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reference_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
