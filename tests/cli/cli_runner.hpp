// Runs the built `labbook` program as a user would and captures what it prints.
#pragma once

#include <string>
#include <vector>

namespace labbook::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs LABBOOK_CLI with `args`; `env` entries ("NAME=value") are added to the environment.
// Standard input is /dev/null. Blocks until the program exits.
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// As RunCli for any program: argv[0] is its path (mpirun, for the data-parallel tests).
CliResult RunProgram(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {});

// A fresh empty directory under the system temp dir, removed by the caller if wanted.
std::string MakeTempDir(const std::string& prefix);

std::string ReadFile(const std::string& path);

// A training config small enough for tests: a 4-filter CNN on the IDX dataset in `data_dir`
// (the stripes of ../train/synthetic_images.hpp), the reference backend, seed 3.
std::string TinyTrainConfig(const std::string& data_dir, int epochs);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace labbook::testing
