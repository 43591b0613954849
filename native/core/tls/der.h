// A bounded, strict DER reader (X.690 distinguished encoding) for the few structures we parse
// ourselves: the libp2p SignedKey extension and the outer layout of a certificate (to find the
// exact TBSCertificate and SubjectPublicKeyInfo bytes). It never allocates, never recurses, and
// reads nothing past the span it was given. Only low-tag-number identifiers (tag < 31) and
// definite lengths of at most kMaxLengthBytes bytes, in minimal form, are accepted.
#pragma once
#include <cstddef>
#include <cstdint>

namespace l2n::tls::der {

// Lengths of up to 4 bytes (4 GiB) cover anything we will see; the callers' own size limits
// (kMaxCertificateLength, kMaxExtensionLength) are far smaller.
inline constexpr size_t kMaxLengthBytes = 4;

inline constexpr uint8_t kInteger = 0x02, kBitString = 0x03, kOctetString = 0x04, kNull = 0x05,
                         kOid = 0x06, kSequence = 0x30, kSet = 0x31;
inline constexpr uint8_t context(unsigned n, bool constructed) {
  return static_cast<uint8_t>(0x80 | (constructed ? 0x20 : 0) | n);
}

struct Tlv {
  uint8_t tag = 0;
  const uint8_t* header = nullptr;  // start of the identifier octet (the whole TLV starts here)
  const uint8_t* value = nullptr;
  size_t len = 0;                    // length of value
  size_t total() const { return static_cast<size_t>(value - header) + len; }
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool empty() const { return p_ == end_; }
  // Reads the next TLV. false on truncation, a high tag number, an indefinite or non-minimal
  // length. The reader is then unusable (stays failed).
  bool next(Tlv& out) {
    if (failed_ || p_ == end_) return fail();
    const uint8_t* start = p_;
    uint8_t tag = *p_++;
    if ((tag & 0x1f) == 0x1f) return fail();  // high-tag-number form: nothing we parse uses it
    if (p_ == end_) return fail();
    uint8_t first = *p_++;
    size_t len = 0;
    if (first < 0x80) {
      len = first;
    } else {
      size_t nbytes = first & 0x7f;
      if (nbytes == 0 || nbytes > kMaxLengthBytes) return fail();  // indefinite or too long
      if (static_cast<size_t>(end_ - p_) < nbytes) return fail();
      if (*p_ == 0) return fail();  // leading zero: not minimal
      for (size_t i = 0; i < nbytes; i++) len = (len << 8) | *p_++;
      if (len < 0x80) return fail();  // should have used the short form
    }
    if (static_cast<size_t>(end_ - p_) < len) return fail();
    out.tag = tag; out.header = start; out.value = p_; out.len = len;
    p_ += len;
    return true;
  }
  // Reads the next TLV and requires its tag.
  bool expect(uint8_t tag, Tlv& out) { return next(out) && (out.tag == tag || fail()); }
  // Peeks at the next tag without consuming (0 when empty or failed).
  uint8_t peek() const { return (failed_ || p_ == end_) ? 0 : *p_; }

 private:
  bool fail() { failed_ = true; p_ = end_; return false; }
  const uint8_t* p_;
  const uint8_t* end_;
  bool failed_ = false;
};

// The pieces of an X.509 certificate we need raw: TBSCertificate (what the self-signature
// covers), SubjectPublicKeyInfo (what the host key signs) and whether the deprecated unique ids
// are present. Walks Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version?, serial, sigAlg,
// issuer, validity, subject, spki, [1] issuerUID?, [2] subjectUID?, [3] extensions? }, sigAlg,
// signature BIT STRING }. Returns false if the layout is not that.
struct CertificateParts {
  Tlv tbs, spki, signature_algorithm, signature;
  bool has_unique_id = false;
};
inline bool split_certificate(const uint8_t* der, size_t len, CertificateParts& out) {
  Reader top(der, len);
  Tlv cert;
  if (!top.expect(kSequence, cert) || !top.empty()) return false;
  Reader c(cert.value, cert.len);
  if (!c.expect(kSequence, out.tbs) || !c.expect(kSequence, out.signature_algorithm) ||
      !c.expect(kBitString, out.signature) || !c.empty())
    return false;
  Reader t(out.tbs.value, out.tbs.len);
  Tlv f;
  if (t.peek() == context(0, true) && !t.next(f)) return false;  // version
  if (!t.expect(kInteger, f) || !t.expect(kSequence, f) ||      // serial, signature
      !t.expect(kSequence, f) || !t.expect(kSequence, f) ||     // issuer, validity
      !t.expect(kSequence, f) || !t.expect(kSequence, out.spki)) // subject, spki
    return false;
  out.has_unique_id = false;
  while (!t.empty()) {
    if (!t.next(f)) return false;
    if (f.tag == context(1, false) || f.tag == context(2, false) ||
        f.tag == context(1, true) || f.tag == context(2, true))
      out.has_unique_id = true;
    else if (f.tag != context(3, true))
      return false;
  }
  return true;
}

}  // namespace l2n::tls::der
