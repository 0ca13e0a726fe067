#include "binfile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vm_zk {

namespace {

uint32_t le32(const uint8_t * p) { uint32_t v; std::memcpy(&v, p, 4); return v; }   // x86-64 / aarch64: little-endian
uint64_t le64(const uint8_t * p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

} // namespace

BinFile BinFile::read(const std::string & path, const char magic[4], uint32_t max_version) {
    FILE * f = std::fopen(path.c_str(), "rb");
    if (!f) throw ZkError("ZK_IO", "cannot open " + path + ": " + std::strerror(errno));
    std::vector<uint8_t> bytes;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        long n = std::ftell(f);
        if (n > 0) bytes.resize((size_t) n);
        std::fseek(f, 0, SEEK_SET);
    }
    size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
    const bool err = std::ferror(f) != 0;
    std::fclose(f);
    if (err || got != bytes.size()) throw ZkError("ZK_IO", "cannot read " + path);
    return parse(std::move(bytes), magic, max_version, path);
}

BinFile BinFile::parse(std::vector<uint8_t> bytes, const char magic[4], uint32_t max_version, const std::string & what) {
    BinFile b;
    b.bytes_ = std::move(bytes);
    b.name_ = what;
    const uint8_t * p = b.bytes_.data();
    const uint64_t n = b.bytes_.size();
    const std::string want(magic, 4);
    if (n < 4 || std::memcmp(p, magic, 4) != 0) {
        throw ZkError("ZK_BAD_MAGIC", what + ": not a ." + want + " file (magic '" + want + "' expected)");
    }
    if (n < 12) throw ZkError("ZK_TRUNCATED", what + ": truncated header (" + std::to_string(n) + " bytes)");
    b.version_ = le32(p + 4);
    if (b.version_ == 0 || b.version_ > max_version) {
        throw ZkError("ZK_BAD_VERSION", what + ": unsupported ." + want + " version " + std::to_string(b.version_) +
                      " (supported 1.." + std::to_string(max_version) + ")");
    }
    const uint32_t count = le32(p + 8);
    uint64_t pos = 12;
    for (uint32_t i = 0; i < count; ++i) {
        if (n - pos < 12) {
            throw ZkError("ZK_TRUNCATED", what + ": truncated at section header " + std::to_string(i) + " of " + std::to_string(count));
        }
        const uint32_t id = le32(p + pos);
        const uint64_t size = le64(p + pos + 4);
        pos += 12;
        if (size > n - pos) {
            throw ZkError("ZK_TRUNCATED", what + ": section " + std::to_string(id) + " claims " + std::to_string(size) +
                          " bytes, " + std::to_string(n - pos) + " left in the file");
        }
        b.sections_[id].push_back({ p + pos, size });
        pos += size;
    }
    return b;
}

const BinSection & BinFile::section(uint32_t id) const {
    auto it = sections_.find(id);
    if (it == sections_.end()) throw ZkError("ZK_BAD_SECTION", name_ + ": section " + std::to_string(id) + " is missing");
    if (it->second.size() != 1) throw ZkError("ZK_BAD_SECTION", name_ + ": section " + std::to_string(id) + " appears " + std::to_string(it->second.size()) + " times");
    return it->second[0];
}

uint32_t SectionReader::u32() { return le32(bytes(4)); }
uint64_t SectionReader::u64() { return le64(bytes(8)); }

const uint8_t * SectionReader::bytes(uint64_t n) {
    if (left() < n) throw ZkError("ZK_BAD_SECTION", what_ + ": section too short (" + std::to_string(n) + " bytes wanted, " + std::to_string(left()) + " left)");
    const uint8_t * r = p_;
    p_ += n;
    return r;
}

} // namespace vm_zk
