#pragma once

// iden3's binary container (.zkey, .wtns, .r1cs, .ptau): 4-byte magic, u32
// version, u32 section count, then (u32 id, u64 size, payload) repeated. Sections
// are found by id, never by position (snarkjs writes them out of order).
// The whole file is read into memory: a zkey at 2^16 constraints is ~30 MB.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace vm_zk {

// Typed error; bindings turn it into a JS Error with `code`:
//   ZK_IO, ZK_BAD_MAGIC, ZK_BAD_VERSION, ZK_TRUNCATED, ZK_BAD_SECTION,
//   ZK_WRONG_CURVE, ZK_MISMATCH, ZK_BAD_INPUT.
struct ZkError : std::runtime_error {
    std::string code;
    ZkError(std::string c, const std::string & msg) : std::runtime_error(msg), code(std::move(c)) {}
};

struct BinSection {
    const uint8_t * data;
    uint64_t        size;
};

class BinFile {
public:
    // Reads `path` and parses the section table. `what` names the file in errors.
    static BinFile read(const std::string & path, const char magic[4], uint32_t max_version);
    static BinFile parse(std::vector<uint8_t> bytes, const char magic[4], uint32_t max_version, const std::string & what);

    uint32_t version() const { return version_; }
    const std::string & name() const { return name_; }
    bool has(uint32_t id) const { return sections_.count(id) != 0; }
    // The one section `id`; ZK_BAD_SECTION if absent or repeated.
    const BinSection & section(uint32_t id) const;

private:
    std::vector<uint8_t> bytes_;
    std::map<uint32_t, std::vector<BinSection>> sections_;
    uint32_t version_ = 0;
    std::string name_;
};

// Bounds-checked little-endian reader over one section.
class SectionReader {
public:
    SectionReader(const BinSection & s, std::string what) : p_(s.data), end_(s.data + s.size), what_(std::move(what)) {}
    uint32_t u32();
    uint64_t u64();
    const uint8_t * bytes(uint64_t n);
    uint64_t left() const { return (uint64_t) (end_ - p_); }
private:
    const uint8_t * p_;
    const uint8_t * end_;
    std::string what_;
};

} // namespace vm_zk
