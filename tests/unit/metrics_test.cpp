#include "base/metrics.hpp"

#include <gtest/gtest.h>

namespace effectd::metrics {
namespace {

TEST(MetricsTest, ACounterFamilyRendersOneLinePerLabelSetWithEscapedValues) {
  CounterFamily requests("t_requests_total", "Requests.", {"status", "reason"});
  requests.inc({"200", "stored"});
  requests.inc({"200", "stored"});
  requests.inc({"400", "bad \"sig\"\nline\\"}, 3);
  std::string out;
  requests.render(out);
  EXPECT_EQ(out,
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{status=\"200\",reason=\"stored\"} 2\n"
            "t_requests_total{status=\"400\",reason=\"bad \\\"sig\\\"\\nline\\\\\"} 3\n");
  EXPECT_EQ(requests.value({"200", "stored"}), 2u);
  EXPECT_EQ(requests.value({"500", "none"}), 0u);
}

TEST(MetricsTest, PastItsSeriesLimitAFamilyCountsNewLabelSetsAsOther) {
  CounterFamily types("t_events_total", "Events.", {"type"}, 2);
  types.inc({"a"});
  types.inc({"b"});
  types.inc({"c"});
  types.inc({"d"}, 2);
  types.inc({"a"});
  EXPECT_EQ(types.value({"a"}), 2u);
  EXPECT_EQ(types.value({"other"}), 3u);
  EXPECT_EQ(types.value({"c"}), 0u);
}

TEST(MetricsTest, AHistogramsBucketsAreCumulativeAndItsCountIsTheInfBucket) {
  Histogram latency("t_seconds", "Latency.", {0.1, 1});
  latency.observe(0.05);
  latency.observe(0.1);  // an upper bound is inclusive
  latency.observe(0.5);
  latency.observe(7);
  std::string out;
  latency.render(out);
  EXPECT_NE(out.find("t_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_sum 7.65\n"), std::string::npos) << out;
  EXPECT_NE(out.find("t_seconds_count 4\n"), std::string::npos) << out;
}

TEST(MetricsTest, TheProcessFiguresAreThereUnderTheirUsualNames) {
  std::string out;
  renderProcess(out);
  for (const char* name : {"process_resident_memory_bytes ", "process_cpu_seconds_total ",
                           "process_open_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(out.find(std::string("\n") + name), std::string::npos) << name << "\n" << out;
  }
  EXPECT_EQ(out.find("process_resident_memory_bytes 0\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace effectd::metrics
