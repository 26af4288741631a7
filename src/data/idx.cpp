// IDX files: header `00 00 <type> <ndims>`, ndims big-endian int32 dimensions, then the elements
// big-endian in row-major order. Gzip files are inflated while they are parsed, straight into the
// array's buffer, so a 47 MB payload costs one 47 MB allocation and no copy.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <memory>

#include "core/status_macros.hpp"
#include "data/file_io.hpp"
#include "labbook/dataset.hpp"

namespace labbook {
namespace {

// How much larger than its gzip file an IDX payload is assumed to be when allocating; images
// compress 2-6x. Allocation grows beyond it while reading, so the guess only costs a copy.
constexpr uint64_t kGuessedDeflateRatio = 8;
constexpr size_t kIoChunk = size_t{1} << 18;
// Payloads are refused above this size (2^40 bytes); no image dataset comes near it.
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 40;

bool IsKnownType(uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x0E:
      return true;
    default:
      return false;
  }
}

std::string Hex(uint8_t byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {'0', 'x', kDigits[byte >> 4], kDigits[byte & 0xF]};
}

// Reverses the byte order of `count` unsigned integers of type U stored at `data`.
template <typename U>
void SwapEach(uint8_t* data, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    U v;
    std::memcpy(&v, data + sizeof(U) * i, sizeof(U));
    if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
    std::memcpy(data + sizeof(U) * i, &v, sizeof(U));
  }
}

// Converts `count` elements of `size` bytes between big-endian and host order, in place.
void SwapToFromBigEndian(uint8_t* data, size_t count, int size) {
  if constexpr (std::endian::native == std::endian::big) return;
  switch (size) {
    case 2:
      SwapEach<uint16_t>(data, count);
      break;
    case 4:
      SwapEach<uint32_t>(data, count);
      break;
    case 8:
      SwapEach<uint64_t>(data, count);
      break;
    default:
      break;
  }
}

// The bytes of an IDX file in order: the file itself, or its inflated gzip content.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `dst`; fewer only at the end of the stream.
  virtual Result<size_t> Read(uint8_t* dst, size_t n) = 0;
  // How many bytes are probably still to come: exact for raw files, a guess for gzip ones.
  virtual uint64_t SizeHint() const = 0;
  virtual bool SizeHintIsExact() const = 0;
  // Appended to "byte N" in messages, saying which stream N counts in.
  virtual std::string_view OffsetUnit() const = 0;
};

class RawSource : public ByteSource {
 public:
  explicit RawSource(data::InputFile* file) : file_(file) {}

  Result<size_t> Read(uint8_t* dst, size_t n) override {
    LABBOOK_ASSIGN_OR_RETURN(size_t got, file_->Read(dst, n));
    position_ += got;
    return got;
  }
  uint64_t SizeHint() const override {
    return file_->size() > position_ ? file_->size() - position_ : 0;
  }
  bool SizeHintIsExact() const override { return true; }
  std::string_view OffsetUnit() const override { return ""; }

 private:
  data::InputFile* file_;
  uint64_t position_ = 0;
};

// Inflates a gzip file of one or more members (as `cat a.gz b.gz` makes), checking each
// member's CRC and length.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(data::InputFile* file) : file_(file), input_(new uint8_t[kIoChunk]) {}
  ~GzipSource() override {
    if (initialized_) inflateEnd(&stream_);
  }

  Status Init() {
    // 16 + MAX_WBITS: expect a gzip wrapper, not zlib or raw deflate.
    int rc = inflateInit2(&stream_, 16 + MAX_WBITS);
    if (rc != Z_OK) return ResourceExhausted(file_->path() + ": cannot start zlib inflate");
    initialized_ = true;
    return Status::Ok();
  }

  Result<size_t> Read(uint8_t* dst, size_t n) override {
    size_t produced = 0;
    while (produced < n && !finished_) {
      if (stream_.avail_in == 0 && !input_eof_) {
        LABBOOK_ASSIGN_OR_RETURN(size_t got, file_->Read(input_.get(), kIoChunk));
        compressed_read_ += got;
        if (got == 0) input_eof_ = true;
        stream_.next_in = input_.get();
        stream_.avail_in = static_cast<uInt>(got);
      }
      if (member_ended_) {
        if (stream_.avail_in == 0 && input_eof_) {
          finished_ = true;
          break;
        }
        // More input after a complete member: it must be another member.
        if (inflateReset(&stream_) != Z_OK) return Internal(file_->path() + ": inflateReset");
        member_ended_ = false;
      }
      size_t room = std::min<size_t>(n - produced, UINT_MAX);
      stream_.next_out = dst + produced;
      stream_.avail_out = static_cast<uInt>(room);
      int rc = inflate(&stream_, Z_NO_FLUSH);
      produced += room - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        return DataLoss(Where(produced) + "corrupt gzip stream (" +
                        (stream_.msg != nullptr ? stream_.msg : "invalid data") +
                        ") at compressed byte " + std::to_string(CompressedPosition()));
      } else if (rc == Z_MEM_ERROR) {
        return ResourceExhausted(file_->path() + ": out of memory while inflating");
      } else if (rc == Z_BUF_ERROR && stream_.avail_in == 0 && input_eof_) {
        return DataLoss(Where(produced) +
                        "truncated gzip stream: the compressed file ends (at compressed byte " +
                        std::to_string(CompressedPosition()) + ") before the gzip trailer");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Internal(file_->path() + ": zlib inflate returned " + std::to_string(rc));
      }
    }
    total_out_ += produced;
    return produced;
  }

  uint64_t SizeHint() const override {
    uint64_t compressed_left = file_->size() - std::min(file_->size(), CompressedPosition());
    return compressed_left * kGuessedDeflateRatio + (uint64_t{1} << 20);
  }
  bool SizeHintIsExact() const override { return false; }
  std::string_view OffsetUnit() const override { return " of the decompressed stream"; }

 private:
  uint64_t CompressedPosition() const { return compressed_read_ - stream_.avail_in; }
  std::string Where(size_t produced_now) const {
    return file_->path() + ": byte " + std::to_string(total_out_ + produced_now) +
           std::string(OffsetUnit()) + ": ";
  }

  data::InputFile* file_;
  std::unique_ptr<uint8_t[]> input_;
  z_stream stream_{};
  bool initialized_ = false;
  bool input_eof_ = false;
  bool member_ended_ = false;
  bool finished_ = false;
  uint64_t compressed_read_ = 0;
  uint64_t total_out_ = 0;
};

std::string DimsText(const std::vector<int32_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += 'x';
    text += std::to_string(dims[i]);
  }
  return text;
}

std::string At(const std::string& path, uint64_t offset, const ByteSource& source) {
  return path + ": byte " + std::to_string(offset) + std::string(source.OffsetUnit()) + ": ";
}

Result<IdxArray> ParseIdx(ByteSource& source, const std::string& path) {
  uint8_t magic[4];
  LABBOOK_ASSIGN_OR_RETURN(size_t got, source.Read(magic, 4));
  if (got == 0) {
    return DataLoss(At(path, 0, source) +
                    "empty file; expected an IDX header (00 00 <type> <number of dims>)");
  }
  if (magic[0] != 0 || (got >= 2 && magic[1] != 0)) {
    return InvalidArgument(At(path, 0, source) + "not an IDX file: the magic number must start " +
                           "with 00 00, got " + Hex(magic[0]) + (got >= 2 ? " " : "") +
                           (got >= 2 ? Hex(magic[1]) : std::string()));
  }
  if (got < 4) {
    return DataLoss(At(path, got, source) +
                    "truncated header: the 4-byte magic number ends at byte " +
                    std::to_string(got));
  }
  if (!IsKnownType(magic[2])) {
    return InvalidArgument(At(path, 2, source) + "unknown IDX element type " + Hex(magic[2]) +
                           "; expected 0x08 ubyte, 0x09 sbyte, 0x0b short, 0x0c int, 0x0d " +
                           "float or 0x0e double");
  }
  if (magic[3] == 0) {
    return InvalidArgument(At(path, 3, source) +
                           "the header says 0 dimensions; expected at least 1");
  }

  IdxArray array;
  array.type = static_cast<IdxType>(magic[2]);
  const int ndims = magic[3];
  const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndims);
  uint8_t dim_bytes[4 * 255];
  LABBOOK_ASSIGN_OR_RETURN(got, source.Read(dim_bytes, 4 * static_cast<size_t>(ndims)));
  if (got < 4 * static_cast<size_t>(ndims)) {
    return DataLoss(At(path, 4 + got, source) + "truncated header: " + std::to_string(ndims) +
                    " dimensions need bytes 4.." + std::to_string(header_bytes) +
                    " but the data ends at byte " + std::to_string(4 + got));
  }
  const uint64_t element_size = static_cast<uint64_t>(IdxTypeSize(array.type));
  uint64_t payload_bytes = element_size;
  array.dims.resize(static_cast<size_t>(ndims));
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* b = dim_bytes + 4 * i;
    uint32_t raw = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    int32_t dim = static_cast<int32_t>(raw);
    if (dim < 0) {
      return InvalidArgument(At(path, 4 + 4 * static_cast<uint64_t>(i), source) + "dimension " +
                             std::to_string(i) + " is " + std::to_string(dim) +
                             "; expected a non-negative size");
    }
    array.dims[static_cast<size_t>(i)] = dim;
    if (dim != 0 && payload_bytes > kMaxPayloadBytes / static_cast<uint64_t>(dim)) {
      return InvalidArgument(At(path, 4 + 4 * static_cast<uint64_t>(i), source) +
                             "the dimensions describe more than 2^40 bytes of data");
    }
    payload_bytes *= static_cast<uint64_t>(dim);
  }
  const uint64_t payload_end = header_bytes + payload_bytes;
  auto truncated = [&](uint64_t end) {
    return DataLoss(At(path, end, source) + "truncated data: dimensions " + DimsText(array.dims) +
                    " of " + std::string(IdxTypeName(array.type)) + " need " +
                    std::to_string(payload_bytes) + " bytes of data, ending at byte " +
                    std::to_string(payload_end) + ", but the data ends at byte " +
                    std::to_string(end));
  };

  // Allocate what the header claims only when the file could plausibly hold it, and grow while
  // reading otherwise, so a corrupt header cannot make us allocate terabytes.
  const uint64_t size_hint = source.SizeHint();
  if (source.SizeHintIsExact() && payload_bytes > size_hint) {
    return truncated(header_bytes + size_hint);
  }
  size_t filled = 0;
  array.bytes.resize(static_cast<size_t>(std::min(payload_bytes, size_hint)));
  while (filled < payload_bytes) {
    if (filled == array.bytes.size()) {
      uint64_t grown = std::max<uint64_t>(2 * array.bytes.size(), uint64_t{1} << 20);
      array.bytes.resize(static_cast<size_t>(std::min(grown, payload_bytes)));
    }
    LABBOOK_ASSIGN_OR_RETURN(got,
                             source.Read(array.bytes.data() + filled, array.bytes.size() - filled));
    if (got == 0) return truncated(header_bytes + filled);
    filled += got;
  }
  uint8_t extra;
  LABBOOK_ASSIGN_OR_RETURN(got, source.Read(&extra, 1));
  if (got != 0) {
    std::string how_many;
    if (source.SizeHintIsExact()) how_many = " (" + std::to_string(source.SizeHint() + 1) + ")";
    return DataLoss(At(path, payload_end, source) + "unexpected trailing bytes" + how_many +
                    ": the header's dimensions account for " + std::to_string(payload_end) +
                    " bytes but the data goes on");
  }
  SwapToFromBigEndian(array.bytes.data(), static_cast<size_t>(payload_bytes / element_size),
                      static_cast<int>(element_size));
  return array;
}

// Where WriteIdx sends bytes: the file as is, or through deflate.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(const uint8_t* data, size_t n) = 0;
  virtual Status Finish() = 0;
};

class RawSink : public ByteSink {
 public:
  explicit RawSink(data::AtomicFileWriter* out) : out_(out) {}
  Status Write(const uint8_t* data, size_t n) override { return out_->Write(data, n); }
  Status Finish() override { return Status::Ok(); }

 private:
  data::AtomicFileWriter* out_;
};

class GzipSink : public ByteSink {
 public:
  GzipSink(data::AtomicFileWriter* out, std::string path)
      : out_(out), path_(std::move(path)), buffer_(new uint8_t[kIoChunk]) {}
  ~GzipSink() override {
    if (initialized_) deflateEnd(&stream_);
  }
  Status Init() {
    // 16 + MAX_WBITS: a gzip wrapper (header with mtime 0, CRC-32 trailer).
    if (deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      return ResourceExhausted(path_ + ": cannot start zlib deflate");
    }
    initialized_ = true;
    return Status::Ok();
  }
  Status Write(const uint8_t* data, size_t n) override {
    while (n > 0) {
      size_t step = std::min<size_t>(n, UINT_MAX);
      stream_.next_in = const_cast<uint8_t*>(data);
      stream_.avail_in = static_cast<uInt>(step);
      LABBOOK_RETURN_IF_ERROR(Pump(Z_NO_FLUSH));
      data += step;
      n -= step;
    }
    return Status::Ok();
  }
  Status Finish() override { return Pump(Z_FINISH); }

 private:
  Status Pump(int flush) {
    while (true) {
      stream_.next_out = buffer_.get();
      stream_.avail_out = static_cast<uInt>(kIoChunk);
      int rc = deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) return Internal(path_ + ": zlib deflate failed");
      LABBOOK_RETURN_IF_ERROR(out_->Write(buffer_.get(), kIoChunk - stream_.avail_out));
      if (flush == Z_FINISH ? rc == Z_STREAM_END
                            : stream_.avail_in == 0 && stream_.avail_out != 0) {
        return Status::Ok();
      }
    }
  }

  data::AtomicFileWriter* out_;
  std::string path_;
  std::unique_ptr<uint8_t[]> buffer_;
  z_stream stream_{};
  bool initialized_ = false;
};

Status WriteIdxTo(ByteSink& sink, const IdxArray& array) {
  uint8_t header[4 + 4 * 255] = {0, 0, static_cast<uint8_t>(array.type),
                                 static_cast<uint8_t>(array.dims.size())};
  for (size_t i = 0; i < array.dims.size(); ++i) {
    uint32_t dim = static_cast<uint32_t>(array.dims[i]);
    header[4 + 4 * i] = static_cast<uint8_t>(dim >> 24);
    header[5 + 4 * i] = static_cast<uint8_t>(dim >> 16);
    header[6 + 4 * i] = static_cast<uint8_t>(dim >> 8);
    header[7 + 4 * i] = static_cast<uint8_t>(dim);
  }
  LABBOOK_RETURN_IF_ERROR(sink.Write(header, 4 + 4 * array.dims.size()));
  const int element_size = IdxTypeSize(array.type);
  if (element_size == 1 || std::endian::native == std::endian::big) {
    LABBOOK_RETURN_IF_ERROR(sink.Write(array.bytes.data(), array.bytes.size()));
  } else {
    std::unique_ptr<uint8_t[]> chunk(new uint8_t[kIoChunk]);
    for (size_t done = 0; done < array.bytes.size();) {
      size_t n = std::min(kIoChunk, array.bytes.size() - done);
      std::memcpy(chunk.get(), array.bytes.data() + done, n);
      SwapToFromBigEndian(chunk.get(), n / static_cast<size_t>(element_size), element_size);
      LABBOOK_RETURN_IF_ERROR(sink.Write(chunk.get(), n));
      done += n;
    }
  }
  return sink.Finish();
}

}  // namespace

int IdxTypeSize(IdxType type) {
  switch (type) {
    case IdxType::kUint8:
    case IdxType::kInt8:
      return 1;
    case IdxType::kInt16:
      return 2;
    case IdxType::kInt32:
    case IdxType::kFloat32:
      return 4;
    case IdxType::kFloat64:
      return 8;
  }
  return 0;
}

std::string_view IdxTypeName(IdxType type) {
  switch (type) {
    case IdxType::kUint8:
      return "ubyte";
    case IdxType::kInt8:
      return "sbyte";
    case IdxType::kInt16:
      return "short";
    case IdxType::kInt32:
      return "int";
    case IdxType::kFloat32:
      return "float";
    case IdxType::kFloat64:
      return "double";
  }
  return "unknown";
}

Result<IdxArray> ReadIdx(const std::string& path) {
  LABBOOK_ASSIGN_OR_RETURN(data::InputFile file, data::InputFile::Open(path));
  uint8_t magic[2] = {0, 0};
  LABBOOK_ASSIGN_OR_RETURN(size_t got, file.Read(magic, 2));
  LABBOOK_RETURN_IF_ERROR(file.Rewind());
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    GzipSource source(&file);
    LABBOOK_RETURN_IF_ERROR(source.Init());
    return ParseIdx(source, path);
  }
  RawSource source(&file);
  return ParseIdx(source, path);
}

Status WriteIdx(const std::string& path, const IdxArray& array, bool gzip) {
  if (!IsKnownType(static_cast<uint8_t>(array.type))) {
    return InvalidArgument(path + ": unknown IDX element type " +
                           Hex(static_cast<uint8_t>(array.type)));
  }
  if (array.dims.empty() || array.dims.size() > 255) {
    return InvalidArgument(path + ": an IDX array has 1 to 255 dimensions, got " +
                           std::to_string(array.dims.size()));
  }
  uint64_t expected = static_cast<uint64_t>(IdxTypeSize(array.type));
  for (size_t i = 0; i < array.dims.size(); ++i) {
    if (array.dims[i] < 0) {
      return InvalidArgument(path + ": dimension " + std::to_string(i) + " is " +
                             std::to_string(array.dims[i]) + "; expected a non-negative size");
    }
    expected *= static_cast<uint64_t>(array.dims[i]);
    if (expected > kMaxPayloadBytes) {
      return InvalidArgument(path + ": the dimensions describe more than 2^40 bytes of data");
    }
  }
  if (expected != array.bytes.size()) {
    return InvalidArgument(path + ": the dimensions need " + std::to_string(expected) +
                           " bytes of " + std::string(IdxTypeName(array.type)) +
                           " data but the array holds " + std::to_string(array.bytes.size()));
  }
  LABBOOK_ASSIGN_OR_RETURN(data::AtomicFileWriter out, data::AtomicFileWriter::Open(path));
  if (gzip) {
    GzipSink sink(&out, path);
    LABBOOK_RETURN_IF_ERROR(sink.Init());
    LABBOOK_RETURN_IF_ERROR(WriteIdxTo(sink, array));
  } else {
    RawSink sink(&out);
    LABBOOK_RETURN_IF_ERROR(WriteIdxTo(sink, array));
  }
  return out.Commit();
}

}  // namespace labbook
