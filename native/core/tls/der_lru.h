// Internal: a bounded, least-recently-used map from a certificate's DER bytes to something derived
// from those bytes alone (a verification result, a parsed public key). Keys are compared in full,
// so no hash collision can alias two certificates. Not thread-safe: the owner locks if it shares it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace l2n::tls {

template <class Value>
class DerLru {
 public:
  // At most `max_entries` certificates of at most `max_der` bytes each: memory stays within
  // max_entries * (max_der + sizeof(Value) + list and index overhead).
  DerLru(size_t max_entries, size_t max_der) : max_entries_(max_entries), max_der_(max_der) {}

  // The value kept for `der` (now the most recently used), or nullptr. Valid until the next insert.
  Value* find(const uint8_t* der, size_t len) {
    auto it = index_.find(std::string_view(reinterpret_cast<const char*>(der), len));
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  // Keeps `value` for `der`, dropping the least recently used entry when full. Certificates that
  // are empty, longer than max_der or already known are not (re)stored.
  void insert(const uint8_t* der, size_t len, Value value) {
    if (len == 0 || len > max_der_) return;
    std::string key(reinterpret_cast<const char*>(der), len);
    if (index_.count(key)) return;
    if (order_.size() >= max_entries_) {
      index_.erase(order_.back().der);
      order_.pop_back();
    }
    order_.push_front(Entry{std::move(key), std::move(value)});
    index_.emplace(std::string_view(order_.front().der), order_.begin());
  }

  size_t size() const { return order_.size(); }

 private:
  struct Entry {
    std::string der;
    Value value;
  };
  size_t max_entries_;
  size_t max_der_;
  std::list<Entry> order_;  // most recently used first; list nodes never move: index_ keys view their der
  std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index_;
};

}  // namespace l2n::tls
