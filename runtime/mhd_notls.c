/* mhd_notls.c — the TLS library symbols that Debian's static libmicrohttpd refers to, for a server
 * that never uses TLS.
 *
 * Debian builds libmicrohttpd.a with HTTPS support, so its objects call into GnuTLS. Model
 * executables link libmicrohttpd statically (they must run on machines with nothing but libc) and
 * never start a daemon with MHD_USE_TLS, so the only GnuTLS calls that happen are the library's
 * constructor and destructor (gnutls_global_init / _deinit), which have nothing to do here. Every
 * other entry is unreachable without TLS; should one be reached, it stops the program with a
 * message rather than run on (an internal error, like a failed assert). CMakeLists.txt checks at
 * configure time that this list covers every GnuTLS symbol the archive needs.
 */
#include <stdio.h>
#include <stdlib.h>

int gnutls_global_init(void);
void gnutls_global_deinit(void);

int gnutls_global_init(void) { return 0; }
void gnutls_global_deinit(void) {}

/* gnutls_malloc is a variable (a function pointer) in GnuTLS. */
void *(*gnutls_malloc)(size_t);
void *(*gnutls_malloc)(size_t) = NULL;

static int no_tls(const char *name)
{
    fprintf(stderr, "internal error: %s called, but this HTTP server is built without TLS\n", name);
    abort();
}

#define NO_TLS(name)                                                                                    \
    int name(void);                                                                                     \
    int name(void) { return no_tls(#name); }

NO_TLS(gnutls_alpn_set_protocols)
NO_TLS(gnutls_bye)
NO_TLS(gnutls_certificate_allocate_credentials)
NO_TLS(gnutls_certificate_free_credentials)
NO_TLS(gnutls_certificate_server_set_request)
NO_TLS(gnutls_certificate_set_dh_params)
NO_TLS(gnutls_certificate_set_retrieve_function2)
NO_TLS(gnutls_certificate_set_retrieve_function3)
NO_TLS(gnutls_certificate_set_x509_key_mem)
NO_TLS(gnutls_certificate_set_x509_key_mem2)
NO_TLS(gnutls_certificate_set_x509_trust_mem)
NO_TLS(gnutls_cipher_get)
NO_TLS(gnutls_credentials_set)
NO_TLS(gnutls_deinit)
NO_TLS(gnutls_dh_params_deinit)
NO_TLS(gnutls_dh_params_import_pkcs3)
NO_TLS(gnutls_dh_params_init)
NO_TLS(gnutls_handshake)
NO_TLS(gnutls_init)
NO_TLS(gnutls_priority_deinit)
NO_TLS(gnutls_priority_init)
NO_TLS(gnutls_priority_set)
NO_TLS(gnutls_protocol_get_version)
NO_TLS(gnutls_psk_allocate_server_credentials)
NO_TLS(gnutls_psk_free_server_credentials)
NO_TLS(gnutls_psk_set_server_credentials_function)
NO_TLS(gnutls_record_check_pending)
NO_TLS(gnutls_record_get_direction)
NO_TLS(gnutls_record_recv)
NO_TLS(gnutls_record_send)
NO_TLS(gnutls_session_get_ptr)
NO_TLS(gnutls_session_set_ptr)
NO_TLS(gnutls_strerror)
NO_TLS(gnutls_transport_set_int2)
