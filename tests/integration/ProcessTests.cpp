// The test harness's own promise (tests/support/Process): what a peer prints reaches the test
// whole, its last line too when the peer ended it without a newline.
#include <doctest/doctest.h>

#include "tests/integration/Peers.hpp"

TEST_CASE("a peer's output reaches the test whole, a last line without its newline included") {
  test_support::Process peer({"/bin/sh", "-c", "printf 'first\\nlast'"});
  CHECK(integration::output_of(peer) == "first\nlast\n");
}
