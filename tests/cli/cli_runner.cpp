#include "cli_runner.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace labbook::testing {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {LABBOOK_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, env);
}

CliResult RunProgram(const std::vector<std::string>& program_argv,
                     const std::vector<std::string>& env) {
  std::string dir = MakeTempDir("labbook-cli");
  std::string out_path = dir + "/stdout";
  std::string err_path = dir + "/stderr";

  std::vector<std::string> argv_storage = program_argv;
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  CliResult result;
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  rmdir(dir.c_str());
  return result;
}

std::string TinyTrainConfig(const std::string& data_dir, int epochs) {
  return "dataset: idx:" + data_dir +
         "\n"
         "validation_split: 0.2\n"
         "layers:\n"
         "  - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}\n"
         "  - {type: MaxPooling2D, pool_size: 2}\n"
         "  - {type: Flatten}\n"
         "  - {type: Dense, units: 2, activation: softmax}\n"
         "loss: sparse_categorical_crossentropy\n"
         "optimizer:\n"
         "  name: adam\n"
         "  learning_rate: 0.01\n"
         "batch_size: 32\n"
         "epochs: " +
         std::to_string(epochs) +
         "\n"
         "seed: 3\n"
         "backend: reference\n";
}

}  // namespace labbook::testing
