// A fresh auth database per test, in its own temporary directory, and a settable clock.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "server/auth/auth_store.hpp"

namespace labbook::server {

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "labbook-server-auth-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Closes the store (checkpointing its WAL) and opens the same file again.
  void Reopen() {
    store_.reset();
    SqliteAuthStoreOptions options;
    options.clock = [this] { return now_.load(); };
    Result<std::unique_ptr<AuthStore>> opened = OpenSqliteAuthStore(db_path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  std::filesystem::path db_path() const { return dir_ / "auth.db"; }
  AuthStore& store() { return *store_; }

  User MakeUser(const std::string& name, bool is_admin = false) {
    Result<User> user = store_->CreateUser(name, is_admin);
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    return user.ok() ? *user : User{};
  }

  NewApiKey MakeKey(const std::string& user, const std::string& name = "laptop") {
    Result<NewApiKey> key = store_->CreateKey(user, name);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? *key : NewApiKey{};
  }

  Principal PrincipalOf(const std::string& user) {
    Result<Principal> principal = store_->Authenticate(MakeKey(user).secret);
    EXPECT_TRUE(principal.ok()) << principal.status().ToString();
    return principal.ok() ? *principal : Principal{};
  }

  std::atomic<double> now_{1'700'000'000.0};
  std::filesystem::path dir_;
  std::unique_ptr<AuthStore> store_;
};

}  // namespace labbook::server
