// DeliveryAbort: an abort reaches a step already running on another thread,
// and one that has not started yet, including its restart().
#include "queue/delivery_abort.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

namespace effectd::queue {
namespace {

TEST(DeliveryAbortTest, ARunWithNothingToWaitForCompletes) {
  DeliveryAbort abort;
  boost::asio::io_context ioc;
  bool ran = false;
  boost::asio::post(ioc, [&] { ran = true; });
  EXPECT_TRUE(abort.run(ioc));
  EXPECT_TRUE(ran);
}

TEST(DeliveryAbortTest, AbortStopsARunningStepFromAnotherThread) {
  DeliveryAbort abort;
  boost::asio::io_context ioc;
  boost::asio::steady_timer hung(ioc, std::chrono::hours(1));  // a provider that never answers
  bool fired = false;
  hung.async_wait([&](auto) { fired = true; });
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    abort.abort();
  });
  EXPECT_FALSE(abort.run(ioc));
  stopper.join();
  EXPECT_FALSE(fired);
  EXPECT_TRUE(abort.aborted());
}

TEST(DeliveryAbortTest, AfterAbortNoStepStarts) {
  DeliveryAbort abort;
  abort.abort();
  boost::asio::io_context ioc;
  bool ran = false;
  boost::asio::post(ioc, [&] { ran = true; });
  EXPECT_FALSE(abort.run(ioc, std::chrono::seconds(5)));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace effectd::queue
