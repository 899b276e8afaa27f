// AddressPolicy: the addresses a webhook may connect to. Everything that
// reaches this machine, its network or the cloud's metadata service is
// refused unless the operator allowed it, in whatever form it is written.
#include <gtest/gtest.h>

#include "http/url.hpp"

namespace effectd::http {
namespace {

TEST(AddressPolicyTest, NonPublicAddressesAreRefusedWithTheReason) {
  const AddressPolicy strict;
  const std::vector<std::pair<const char*, const char*>> refused{
      {"127.0.0.1", "loopback"},
      {"127.255.0.9", "loopback"},
      {"::1", "loopback"},
      {"::ffff:127.0.0.1", "loopback, IPv4-mapped"},
      {"0.0.0.0", "unspecified"},
      {"::", "unspecified"},
      {"0.1.2.3", "'this network'"},
      {"10.0.0.1", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.168.1.1", "private"},
      {"::ffff:10.1.2.3", "private, IPv4-mapped"},
      {"100.64.0.1", "shared address space (CGNAT)"},
      {"100.127.255.254", "shared address space (CGNAT)"},
      {"169.254.169.254", "link-local (cloud metadata)"},
      {"::ffff:169.254.169.254", "link-local (cloud metadata), IPv4-mapped"},
      {"fe80::1", "link-local"},
      {"fc00::1", "private (unique local)"},
      {"fd12:3456::1", "private (unique local)"},
      {"224.0.0.1", "multicast"},
      {"ff02::1", "multicast"},
      {"255.255.255.255", "reserved"},
      {"::127.0.0.1", "reserved (IPv4-compatible)"},
      {"64:ff9b::7f00:1", "loopback, embedded in IPv6"},
      {"2002:a9fe:a9fe::1", "link-local (cloud metadata), embedded in IPv6"},
      {"64:ff9b:1::a00:1", "NAT64 local-use"},
      {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"},
      {"2001:db8::1", "reserved (documentation)"},
      {"203.0.113.7", "reserved (documentation)"},
  };
  for (const auto& [address, why] : refused) {
    const auto refusal = strict.refusal(address);
    ASSERT_TRUE(refusal.has_value()) << address;
    EXPECT_EQ(*refusal, why) << address;
  }
}

TEST(AddressPolicyTest, PublicAddressesPass) {
  const AddressPolicy strict;
  for (const auto* address : {"93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1",
                              "2606:4700::6810:84e5", "::ffff:8.8.8.8", "64:ff9b::808:808"}) {
    EXPECT_FALSE(strict.refusal(address).has_value()) << address;
  }
}

TEST(AddressPolicyTest, TheOperatorsNetworksAreAllowedAndNothingElse) {
  AddressPolicy policy;
  for (const auto* cidr : {"10.1.0.0/16", "127.0.0.1", "fd00::/8"}) {
    policy.allowedNonPublic.push_back(IpNetwork::parse(cidr).value());
  }
  EXPECT_FALSE(policy.refusal("10.1.200.3").has_value());
  EXPECT_FALSE(policy.refusal("::ffff:10.1.200.3").has_value());
  EXPECT_FALSE(policy.refusal("127.0.0.1").has_value());
  EXPECT_FALSE(policy.refusal("fd00::5").has_value());
  EXPECT_TRUE(policy.refusal("10.2.0.1").has_value());
  EXPECT_TRUE(policy.refusal("127.0.0.2").has_value());
  EXPECT_TRUE(policy.refusal("169.254.169.254").has_value());
  EXPECT_TRUE(policy.refusal("::1").has_value());
}

TEST(IpNetworkTest, ParsesCidrsAndBareAddresses) {
  EXPECT_EQ(IpNetwork::parse("10.1.0.0/16")->toString(), "10.1.0.0/16");
  EXPECT_EQ(IpNetwork::parse("10.1.2.3/16")->toString(), "10.1.0.0/16");
  EXPECT_EQ(IpNetwork::parse("127.0.0.1")->toString(), "127.0.0.1/32");
  EXPECT_EQ(IpNetwork::parse("::1")->toString(), "::1/128");
  EXPECT_EQ(IpNetwork::parse("FD00::/8")->toString(), "fd00::/8");
  for (const auto* bad : {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "localhost",
                          "10.0.0/8", "fe80::1%eth0", "[::1]"}) {
    EXPECT_FALSE(IpNetwork::parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace effectd::http
