// Minimal test harness for the native engine tests: TEST(name) { CHECK(...); CHECK_EQ(a, b); }
// Each test binary prints one line per failure and ends with "N passed, N failed".
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace l2n_test {
struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& registry() { static std::vector<Case> r; return r; }
inline int& failures() { static int f = 0; return f; }
struct Register { Register(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); } };

inline std::vector<uint8_t> hex(const std::string& s) {
  std::vector<uint8_t> out;
  auto nib = [](char c) -> int { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    if (s[i] == ' ') { i -= 1; continue; }
    out.push_back(static_cast<uint8_t>(nib(s[i]) << 4 | nib(s[i + 1])));
  }
  return out;
}
inline std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
inline std::string to_hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) { s += d[p[i] >> 4]; s += d[p[i] & 15]; }
  return s;
}
inline std::string to_hex(const std::vector<uint8_t>& v) { return to_hex(v.data(), v.size()); }
}  // namespace l2n_test

#define L2N_CAT2(a, b) a##b
#define L2N_CAT(a, b) L2N_CAT2(a, b)
#define TEST(name) \
  static void name(); \
  static l2n_test::Register L2N_CAT(reg_, name)(#name, name); \
  static void name()
#define CHECK(cond) do { if (!(cond)) { std::fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); throw 1; } } while (0)
#define CHECK_EQ(a, b) do { auto _a = (a); auto _b = (b); if (!(_a == _b)) { \
  std::fprintf(stderr, "  FAIL %s:%d: %s == %s\n", __FILE__, __LINE__, #a, #b); throw 1; } } while (0)

#define TEST_MAIN() \
  int main() { \
    int passed = 0; \
    for (auto& c : l2n_test::registry()) { \
      try { c.fn(); passed++; std::fprintf(stderr, "ok   %s\n", c.name); } \
      catch (...) { l2n_test::failures()++; std::fprintf(stderr, "FAIL %s\n", c.name); } \
    } \
    std::printf("%d passed, %d failed\n", passed, l2n_test::failures()); \
    return l2n_test::failures() == 0 ? 0 : 1; \
  }
