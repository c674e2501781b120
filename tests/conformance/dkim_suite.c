/* Runs the DKIM conformance manifest (../shared/conformance/dkim) in place,
 * in the rfc8301 (default) and legacy profiles.  Every DKIM-Signature's
 * result is compared with the manifest's acceptable outcomes. */
#include "dkim.h"
#include "resolver.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static struct ma_resolver *
zone(json_t *dns)
{
	struct ma_fixture *fx = ma_fixture_new();
	size_t i;
	json_t *d;

	json_array_foreach(dns, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		const char *val = json_string_value(json_object_get(d, "value"));
		const char *e = json_string_value(json_object_get(d, "error"));
		if (name == NULL)
			continue;
		if (val) {
			struct ma_txt_string s = { (const unsigned char *)val, strlen(val) };
			ma_fixture_add_txt(fx, name, MA_RR_TXT, &s, 1);
		} else if (e && strcmp(e, "TIMEOUT") == 0)
			ma_fixture_set_timeout(fx, name);
		else if (e && strcmp(e, "SERVFAIL") == 0)
			ma_fixture_set_servfail(fx, name);
	}
	return ma_resolver_new_fixture(fx);
}

static bool
acceptable(json_t *exp, const char *got)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(exp, "acceptable"), i, a)
		if (strcmp(json_string_value(a), got) == 0)
			return true;
	return false;
}

int
main(int argc, char **argv)
{
	char path[4096];
	json_error_t je;
	int pass = 0, total = 0, dk = 0, listed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: dkim_suite DIR\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/manifest.json", argv[1]);
	json_t *root = json_load_file(path, 0, &je);
	if (root == NULL) {
		fprintf(stderr, "%s: %s\n", path, je.text);
		return 2;
	}
	static const char *const profiles[] = { "rfc8301", "legacy" };
	for (int pi = 0; pi < 2; pi++) {
		const char *prof = profiles[pi];
		int ppass = 0, ptotal = 0;
		size_t ci;
		json_t *c;
		json_array_foreach(json_object_get(root, "cases"), ci, c) {
			const char *id = json_string_value(json_object_get(c, "id"));
			size_t len;
			if (pi == 1 && json_is_true(json_object_get(json_object_get(c, "upstream"), "skipped_upstream"))) {
				/* The manifest README: "their listed pass does not hold". */
				printf("LISTED %s: skipped upstream; the manifest README says its listed "
					    "legacy result does not hold (Mail::DKIM and dkimpy disagree with it)\n", id);
				listed++;
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", argv[1], json_string_value(json_object_get(c, "file")));
			char *text = slurp(path, &len);
			if (text == NULL) {
				printf("FAIL %s: cannot read %s\n", id, path);
				ptotal++;
				continue;
			}
			struct ma_msg *m = ma_msg_new(NULL);
			ma_msg_parse(m, text, len);
			struct ma_resolver *r = zone(json_object_get(c, "dns"));
			json_t *at = json_object_get(c, "verify_at");
			struct ma_dkim_verify_opts o = {
				.legacy = pi == 1,
				.now = json_is_integer(at) ? json_integer_value(at) : 0,
			};
			struct ma_dkim_sig sigs[16];
			size_t n = ma_dkim_verify(r, NULL, m, &o, sigs, 16);
			size_t k = 0, si;
			json_t *s;
			bool any_per_sig = false;
			json_array_foreach(json_object_get(c, "signatures"), si, s) {
				const char *hdr = json_string_value(json_object_get(s, "header"));
				if (strcmp(hdr, "DKIM-Signature") != 0) {
					if (pi == 0)
						dk++;
					continue;	/* DomainKeys: see the note printed below */
				}
				json_t *exp = json_object_get(json_object_get(s, "expected"), prof);
				size_t idx = k++;
				if (!json_is_object(exp))
					continue;
				any_per_sig = true;
				ptotal++;
				const char *got = idx < n ? ma_dkim_result_name(sigs[idx].result) : "(missing)";
				if (acceptable(exp, got))
					ppass++;
				else
					printf("FAIL %s [%s] sig %zu: got %s (%s), want %s\n", id, prof, idx, got,
					    idx < n ? sigs[idx].reason : "", json_string_value(json_object_get(exp, "result")));
			}
			if (!any_per_sig && strcmp(json_string_value(json_object_get(c, "scope")), "dkim") == 0) {
				/* Only an overall expectation: any pass passes. */
				const char *want = json_string_value(json_object_get(json_object_get(c, "expected_overall"), prof));
				const char *got = n ? ma_dkim_result_name(sigs[0].result) : "none";
				for (size_t i = 0; i < n; i++)
					if (sigs[i].result == MA_DKIM_PASS)
						got = "pass";
				if (want) {
					ptotal++;
					if (strcmp(want, got) == 0)
						ppass++;
					else
						printf("FAIL %s [%s] overall: got %s, want %s\n", id, prof, got, want);
				}
			}
			if (strcmp(json_string_value(json_object_get(c, "scope")), "dkim") != 0) {
				/* DomainKeys-only messages: a DKIM verifier reports none. */
				ptotal++;
				if (n == 0)
					ppass++;
				else
					printf("FAIL %s [%s]: DomainKeys-only message gave %zu DKIM results\n", id, prof, n);
			}
			ma_resolver_free(r);
			ma_msg_free(m);
			free(text);
		}
		printf("dkim-%s: %d/%d\n", prof, ppass, ptotal);
		pass += ppass;
		total += ptotal;
	}
	printf("listed, not run: %d legacy cases the upstream suite itself skips\n", listed);
	json_decref(root);
	root = NULL;

	/* The ARC suite's messages that carry DKIM-Signatures: the manifest
	 * says which must have a passing one. */
	if (argc > 2) {
		int apass = 0, atotal = 0;
		snprintf(path, sizeof(path), "%s/manifest.json", argv[2]);
		if ((root = json_load_file(path, 0, &je)) == NULL) {
			fprintf(stderr, "%s: %s\n", path, je.text);
			return 2;
		}
		size_t ci;
		json_t *c;
		json_array_foreach(json_object_get(root, "validation"), ci, c) {
			const char *want = json_string_value(json_object_get(json_object_get(c, "expected"), "dkim"));
			const char *id = json_string_value(json_object_get(c, "id"));
			size_t len;
			if (want == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[2], json_string_value(json_object_get(c, "file")));
			char *text = slurp(path, &len);
			struct ma_msg *m = ma_msg_new(NULL);
			if (text)
				ma_msg_parse(m, text, len);
			struct ma_resolver *r = zone(json_object_get(c, "dns"));
			struct ma_dkim_sig sigs[16];
			size_t n = ma_dkim_verify(r, NULL, m, &(struct ma_dkim_verify_opts){ 0 }, sigs, 16);
			bool ok = false;
			for (size_t i = 0; i < n; i++) {
				printf("  %s sig %zu: %s d=%s (%s)\n", id, i, ma_dkim_result_name(sigs[i].result),
				    sigs[i].domain, sigs[i].reason);
				if (sigs[i].result == MA_DKIM_PASS)
					ok = true;
			}
			atotal++;
			if (ok && strstr(want, "at least one DKIM signature passes"))
				apass++;
			else
				printf("FAIL %s: want \"%s\"\n", id, want);
			ma_resolver_free(r);
			ma_msg_free(m);
			free(text);
		}
		printf("dkim-in-arc-suite: %d/%d\n", apass, atotal);
		pass += apass;
		total += atotal;
	}
	printf("note: %d DomainKey-Signature fields (RFC 4870 DomainKeys, historic; not DKIM) are not verified:\n"
	    "      RFC 6376 defines only DKIM-Signature, so their messages count as 'none' in both profiles.\n", dk);
	json_decref(root);
	printf("RESULT: %d passed, %d failed\n", pass, total - pass);
	return pass == total ? 0 : 1;
}
