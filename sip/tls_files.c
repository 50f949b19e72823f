/* tls_files: the private certificate directory Sofia's TLS transport reads
 * (TPTAG_CERTIFICATE names a directory holding agent.pem, our key and
 * certificate, and cafile.pem, the CAs peers are verified against), built
 * at start from the configured PEM files after checking that they parse,
 * and removed at stop. */
#include "sip/sip_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/base/log.h"

#define MOD "sip"

/* A CA bundle is a few hundred KiB; anything this big is not PEM. */
#define PEM_MAX (16u << 20)

static bool set(const char *s)
{
	return s && s[0];
}

/* The whole file in *buf (NUL-terminated, *len without it). */
static int file_read(const char *what, const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!f) {
		rc = errno;
		log_err(MOD, "%s %s: %s", what, path, strerror(rc));
		return rc;
	}
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *nb = cap >= PEM_MAX ? NULL : realloc(b, cap ? cap * 2 : 8192);

			if (!nb) {
				rc = cap >= PEM_MAX ? EFBIG : ENOMEM;
				log_err(MOD, "%s %s: %s", what, path, strerror(rc));
				break;
			}
			b = nb;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				rc = EIO;
				log_err(MOD, "%s %s: read error", what, path);
			}
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* Never prompt on the terminal for a pass phrase (OpenSSL's default, and
 * Sofia's without TPTAG_TLS_PASSPHRASE): an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Certificates in a PEM buffer; the first in *first when asked. */
static int pem_certs(const char *pem, size_t len, X509 **first)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	while (bio && (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
		if (n++ == 0 && first)
			*first = x;
		else
			X509_free(x);
	}
	ERR_clear_error(); /* the read past the last one fails */
	BIO_free(bio);
	return n;
}

static EVP_PKEY *pem_key(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

	ERR_clear_error();
	BIO_free(bio);
	return k;
}

/* Our certificate and key: both parse, and they belong together. */
static int check_identity(const struct sip_opts *o, const char *cert, size_t clen, const char *key,
                          size_t klen)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int n = pem_certs(cert, clen, &x), rc = EINVAL;

	if (n == 0) {
		log_err(MOD, "sip.tls.certificate %s: no PEM certificate in it",
		        o->tls_certificate);
		goto out;
	}
	k = pem_key(key, klen);
	if (!k) {
		log_err(MOD, "sip.tls.key %s: no unencrypted PEM private key in it", o->tls_key);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		log_err(MOD, "sip.tls.key %s is not the key of sip.tls.certificate %s", o->tls_key,
		        o->tls_certificate);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		log_warn(MOD, "sip.tls.certificate %s is not valid now (expired or not yet valid)",
		         o->tls_certificate);
	/* tport_tls.c loads agent.pem with SSL_CTX_use_certificate_file(): the
	 * first certificate only. OpenSSL completes the chain it sends from
	 * cafile.pem when the intermediates are there. */
	if (n > 1)
		log_info(MOD,
		         "sip.tls.certificate %s holds %d certificates: Sofia-SIP sends the first; "
		         "peers need its intermediates (or put them in sip.tls.ca)",
		         o->tls_certificate, n);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static int file_write(const char *dir, const char *name, const char *a, size_t alen, const char *b,
                      size_t blen)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno;
		log_err(MOD, "cannot create %s: %s", path, strerror(rc));
		return rc;
	}
	if (write(fd, a, alen) != (ssize_t)alen ||
	    (b && (write(fd, "\n", 1) != 1 || write(fd, b, blen) != (ssize_t)blen))) {
		rc = errno ? errno : EIO;
		log_err(MOD, "cannot write %s: %s", path, strerror(rc));
	}
	if (close(fd) != 0 && !rc)
		rc = errno;
	return rc;
}

/* agent.pem = certificate then key; cafile.pem = the CA bundle. */
static int dir_fill(const struct sip_opts *o, const char *dir)
{
	char *cert = NULL, *key = NULL, *ca = NULL;
	size_t clen = 0, klen = 0, calen = 0;
	int rc = 0;

	if (set(o->tls_certificate) != set(o->tls_key)) {
		log_err(MOD, "sip.tls.certificate and sip.tls.key go together");
		return EINVAL;
	}
	for (size_t i = 0; i < o->nlisten && !set(o->tls_certificate); i++) {
		if (sip_tls_listen_entry(o->listen[i])) {
			log_err(MOD,
			        "listen entry \"%s\" needs sip.tls.certificate and sip.tls.key",
			        o->listen[i]);
			return EINVAL;
		}
	}
	if (set(o->tls_certificate)) {
		rc = file_read("sip.tls.certificate", o->tls_certificate, &cert, &clen);
		if (!rc)
			rc = file_read("sip.tls.key", o->tls_key, &key, &klen);
		if (!rc)
			rc = check_identity(o, cert, clen, key, klen) ? EINVAL : 0;
		if (!rc)
			rc = file_write(dir, "agent.pem", cert, clen, key, klen);
	}
	/* Unverified, the CAs play no part (tls_verify_cb clears every error). */
	if (!rc && o->tls_verify) {
		if (!set(o->tls_ca)) {
			log_err(MOD, "sip.tls.verify needs sip.tls.ca");
			rc = EINVAL;
		}
		if (!rc)
			rc = file_read("sip.tls.ca", o->tls_ca, &ca, &calen);
		if (!rc && pem_certs(ca, calen, NULL) == 0) {
			log_err(MOD, "sip.tls.ca %s: no PEM certificate in it", o->tls_ca);
			rc = EINVAL;
		}
		if (!rc)
			rc = file_write(dir, "cafile.pem", ca, calen, NULL, 0);
	}
	if (key)
		explicit_bzero(key, klen);
	free(cert);
	free(key);
	free(ca);
	return rc;
}

void sip_tls_dir_remove(struct sip *sip)
{
	static const char *const names[] = {"agent.pem", "cafile.pem"};
	char path[PATH_MAX];

	if (!sip->tls_dir)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sip->tls_dir, names[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn(MOD, "cannot remove %s: %s", path, strerror(errno));
	}
	if (rmdir(sip->tls_dir) != 0)
		log_warn(MOD, "cannot remove %s: %s", sip->tls_dir, strerror(errno));
	free(sip->tls_dir);
	sip->tls_dir = NULL;
}

int sip_tls_dir_make(struct sip *sip)
{
	const struct sip_opts *o = &sip->opts;
	const char *parent = set(o->tls_dir) ? o->tls_dir : getenv("TMPDIR");
	char path[PATH_MAX];
	int n, rc;

	if (!set(parent))
		parent = "/tmp";
	n = snprintf(path, sizeof(path), "%s/sip-tls-XXXXXX", parent);
	if (n < 0 || (size_t)n >= sizeof(path) - 16)
		return ENAMETOOLONG;
	/* mkdtemp() makes it 0700; the files in it are 0600. */
	if (!mkdtemp(path)) {
		rc = errno;
		log_err(MOD, "cannot make a TLS certificate directory in %s: %s", parent,
		        strerror(rc));
		return rc;
	}
	sip->tls_dir = strdup(path);
	if (!sip->tls_dir) {
		rmdir(path);
		return ENOMEM;
	}
	rc = dir_fill(o, sip->tls_dir);
	if (rc)
		sip_tls_dir_remove(sip);
	return rc;
}
