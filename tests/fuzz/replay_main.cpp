// Runs a harness without libFuzzer, so that the regular (GCC, ASan+UBSan) build replays the
// checked-in corpus and every crash reproducer as a test:
//   fuzz-replay-NAME PATH...        runs each file (directories: each file inside)
//   fuzz-replay-NAME --write-seeds DIR
//                                   writes the harness's own seeds into DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/FuzzInput.hpp"

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(file), {}};
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--write-seeds") {
    std::filesystem::create_directories(args[1]);
    for (const auto& [name, bytes] : fuzz_seeds()) {
      std::ofstream out(std::filesystem::path(args[1]) / name, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
    return 0;
  }
  int runs = 0;
  for (const auto& arg : args) {
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) runs += run_file(entry.path());
    } else if (std::filesystem::exists(arg)) {
      runs += run_file(arg);
    }
  }
  // The seeds run too, so a harness whose corpus folder is empty still proves something.
  for (const auto& [name, bytes] : fuzz_seeds())
    runs += (LLVMFuzzerTestOneInput(bytes.data(), bytes.size()), 1);
  std::cout << "replayed " << runs << " inputs\n";
  return runs > 0 ? 0 : 1;
}
