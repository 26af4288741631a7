// HTTPS: the server with --tls-cert/--tls-key answers over TLS, and refuses to start with files
// that do not load. The certificate is made for the test with OpenSSL (self-signed, 127.0.0.1).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>

#include "server_test_util.hpp"

namespace labbook::server {
namespace {

// Writes a self-signed certificate for 127.0.0.1 and its key as PEM files.
bool WriteSelfSigned(const std::filesystem::path& cert, const std::filesystem::path& key) {
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  if (pkey == nullptr) return false;
  X509* x509 = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), -60);
  X509_gmtime_adj(X509_getm_notAfter(x509), 24 * 3600);
  X509_set_pubkey(x509, pkey);
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x509, name);
  bool ok = X509_sign(x509, pkey, EVP_sha256()) > 0;
  FILE* cert_file = std::fopen(cert.c_str(), "wb");
  FILE* key_file = std::fopen(key.c_str(), "wb");
  ok = ok && cert_file && key_file && PEM_write_X509(cert_file, x509) &&
       PEM_write_PrivateKey(key_file, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  if (cert_file) std::fclose(cert_file);
  if (key_file) std::fclose(key_file);
  X509_free(x509);
  EVP_PKEY_free(pkey);
  return ok;
}

TEST(TlsTest, ServesHttpsWithTheGivenCertificate) {
  std::string pattern = (std::filesystem::temp_directory_path() / "labbook-tls-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = pattern;
  ASSERT_TRUE(WriteSelfSigned(dir / "cert.pem", dir / "key.pem"));

  ServerOptions options;
  options.port = 0;
  options.data_dir = dir / "data";
  options.tls_cert = dir / "cert.pem";
  options.tls_key = dir / "key.pem";
  auto server = Server::Create(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->Start();
  EXPECT_EQ((*server)->base_url().rfind("https://127.0.0.1:", 0), 0u);

  httplib::SSLClient client("127.0.0.1", (*server)->port());
  client.set_ca_cert_path((dir / "cert.pem").c_str());
  client.enable_server_certificate_verification(true);
  auto result = client.Get("/api/v1/health");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_NE(result->body.find("\"ok\""), std::string::npos);

  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", (*server)->port());
  plain.set_read_timeout(5);
  auto refused = plain.Get("/api/v1/health");
  EXPECT_TRUE(!refused || refused->status != 200);
  (*server)->Stop();
  std::filesystem::remove_all(dir);
}

TEST(TlsTest, FilesThatDoNotLoadAreNamed) {
  std::string pattern = (std::filesystem::temp_directory_path() / "labbook-tls-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = pattern;
  ServerOptions options;
  options.port = 0;
  options.data_dir = dir / "data";
  options.tls_cert = dir / "missing-cert.pem";
  options.tls_key = dir / "missing-key.pem";
  auto server = Server::Create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("missing-cert.pem"), std::string::npos);

  options.tls_key.clear();
  server = Server::Create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--tls-key"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace labbook::server
