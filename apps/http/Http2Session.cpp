#include "apps/http/Http2Session.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <exception>

namespace apps::http {
namespace {

template <typename T, auto Free>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p != nullptr) Free(p);
  }
};

std::string_view view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

nghttp2_nv field(std::string_view name, std::string_view value) {
  // NO_COPY is not set: nghttp2 copies both when the frame is submitted.
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::vector<nghttp2_nv> fields_nv(const Fields& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size() + 1);
  for (const auto& [name, value] : fields) nv.push_back(field(name, value));
  return nv;
}

}  // namespace

struct Http2Session::Stream {
  std::int32_t id = 0;
  Http2Request request;
  Fields trailers;
  std::size_t header_bytes = 0;
  bool too_large = false;    // over max_header_list_bytes: answered 431 by the session
  bool in_trailers = false;  // the HEADERS being decoded are the request's trailers
  bool responded = false;
  // The response body: bytes queued from `sent` on; eof once end() was called.
  std::string queue;
  std::size_t sent = 0;
  bool eof = false;
  bool deferred = false;    // the data source said NGHTTP2_ERR_DEFERRED: resume on new bytes
  bool above_high = false;  // write() returned false: on_stream_writable once drained
  bool progressed = false;  // sent response bytes (or began to wait) since the last sweep
  Fields response_trailers;
  std::size_t unconsumed = 0;  // request body bytes delivered but not consumed

  std::size_t queued() const { return queue.size() - sent; }
};

// The C trampolines. No exception crosses nghttp2's frames: an event's is kept and rethrown by
// feed() once nghttp2 has returned.
struct Http2Session::Callbacks {
  static Http2Session& self(void* user_data) { return *static_cast<Http2Session*>(user_data); }

  template <typename F>
  static int guard(void* user_data, F&& body) noexcept {
    try {
      return body(self(user_data));
    } catch (...) {
      auto& s = self(user_data);
      if (!s.exception_) s.exception_ = std::current_exception();
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      if (frame->hd.type != NGHTTP2_HEADERS) return 0;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        auto stream = std::make_unique<Stream>();
        stream->id = frame->hd.stream_id;
        s.streams_[stream->id] = std::move(stream);
      } else if (Stream* stream = s.find(frame->hd.stream_id)) {
        stream->in_trailers = true;
      }
      return 0;
    });
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                    std::uint8_t, void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      Stream* stream = s.find(frame->hd.stream_id);
      if (stream == nullptr) return 0;
      // RFC 9113 6.5.2's measure, over the decoded fields: what a compressed block expands to
      // is what the limit is about (a few bytes of HPACK can name a large table entry often).
      stream->header_bytes += namelen + valuelen + 32;
      if (stream->header_bytes > s.limits_.max_header_list_bytes) stream->too_large = true;
      if (stream->too_large) return 0;
      const auto n = view(name, namelen);
      const auto v = view(value, valuelen);
      if (stream->in_trailers) {
        stream->trailers.emplace_back(n, v);
        return 0;
      }
      Http2Request& r = stream->request;
      if (n == ":method") {
        r.method = v;
      } else if (n == ":scheme") {
        r.scheme = v;
      } else if (n == ":authority") {
        r.authority = v;
      } else if (n == ":path") {
        r.path = v;
      } else if (n == ":protocol") {
        r.protocol = v;
      } else {
        if (n == "content-length") {
          // nghttp2 checked it is one number and will hold the DATA to it.
          std::uint64_t length = 0;
          std::from_chars(v.data(), v.data() + v.size(), length);
          r.content_length = length;
        }
        r.fields.emplace_back(n, v);
      }
      return 0;
    });
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept {
    return guard(user, [&](Http2Session& s) { return on_frame(s, frame); });
  }
  static int on_frame(Http2Session& s, const nghttp2_frame* frame);

  static int data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                        const std::uint8_t* data, std::size_t len, void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      Stream* stream = s.find(stream_id);
      if (stream == nullptr || stream->too_large) {
        // Nobody will take these: the window opens again at once.
        nghttp2_session_consume(session, stream_id, len);
        return 0;
      }
      stream->unconsumed += len;
      s.events_.on_request_body(stream_id, std::as_bytes(std::span(data, len)));
      return 0;
    });
  }

  static int stream_close(nghttp2_session* session, std::int32_t stream_id,
                          std::uint32_t error_code, void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      const auto it = s.streams_.find(stream_id);
      if (it == s.streams_.end()) return 0;
      const std::unique_ptr<Stream> stream = std::move(it->second);
      s.streams_.erase(it);
      // Body bytes no one consumed would shrink the connection's window for good.
      if (stream->unconsumed > 0) nghttp2_session_consume_connection(session, stream->unconsumed);
      if (error_code == NGHTTP2_NO_ERROR)
        s.resets_ = std::min<std::int64_t>(s.resets_ + 1, s.limits_.reset_budget);
      if (!stream->too_large) s.events_.on_stream_closed(stream_id, error_code);
      return 0;
    });
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void* user) noexcept {
    auto& s = self(user);
    auto* stream = static_cast<Stream*>(source->ptr);
    const std::size_t n = std::min(length, stream->queued());
    std::copy_n(stream->queue.data() + stream->sent, n, buf);
    stream->sent += n;
    if (n > 0) stream->progressed = true;
    if (stream->queued() == 0) {
      stream->queue.clear();
      stream->sent = 0;
    }
    if (stream->above_high && stream->queued() <= s.limits_.stream_low) {
      stream->above_high = false;
      s.writable_.push_back(stream_id);
    }
    if (stream->queued() > 0) return static_cast<ssize_t>(n);
    if (!stream->eof) {
      if (n > 0) return static_cast<ssize_t>(n);
      stream->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->response_trailers.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto nv = fields_nv(stream->response_trailers);
      nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
    }
    return static_cast<ssize_t>(n);
  }

  // A frame nghttp2 refused: a stream error (it sends RST_STREAM) or a connection error (it
  // sends GOAWAY; frame_sent then fails the session).
  static int invalid_frame(nghttp2_session*, const nghttp2_frame*, int lib_error,
                           void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      if (lib_error == NGHTTP2_ERR_REFUSED_STREAM) {
        s.limit_fired(Limit::refused,
                      "streams refused (REFUSED_STREAM) over h2-max-concurrent-streams " +
                          std::to_string(s.limits_.max_concurrent_streams));
      } else {
        s.limit_fired(Limit::stream_error,
                      std::string("stream reset for a bad frame: ") + nghttp2_strerror(lib_error));
      }
      return 0;
    });
  }

  // A GOAWAY with an error code that the session did not ask for is nghttp2's answer to a
  // connection error of the peer's: the session has failed, for the log.
  static int frame_sent(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept {
    return guard(user, [&](Http2Session& s) {
      if (frame->hd.type == NGHTTP2_DATA) {
        // A client reading a download opens its stream's and the connection's windows as it
        // goes: up to two WINDOW_UPDATEs per DATA frame are its due, not a flood.
        s.flood_ = std::min<std::int64_t>(s.flood_ + 2, s.limits_.flood_budget);
        return 0;
      }
      if (frame->hd.type != NGHTTP2_GOAWAY || frame->goaway.error_code == NGHTTP2_NO_ERROR ||
          s.failed_)
        return 0;
      s.failed_ = true;
      s.error_ = std::string("connection error ") +
                 nghttp2_http2_strerror(frame->goaway.error_code) + ": " +
                 std::string(view(frame->goaway.opaque_data, frame->goaway.opaque_data_len));
      return 0;
    });
  }

  static nghttp2_session_callbacks* make() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, invalid_frame);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, frame_sent);
    return callbacks;
  }
};

Http2Session::Http2Session(Http2Events& events, Http2Limits limits)
    : events_(events),
      limits_(limits),
      session_(nullptr, nghttp2_session_del),
      flood_(limits.flood_budget),
      resets_(limits.reset_budget) {
  Owned<nghttp2_session_callbacks, nghttp2_session_callbacks_del> callbacks{Callbacks::make()};
  Owned<nghttp2_option, nghttp2_option_del> option;
  nghttp2_option_new(&option.p);
  // Windows open only as consumers take the bytes (consume()).
  nghttp2_option_set_no_auto_window_update(option.p, 1);
  nghttp2_option_set_max_continuations(option.p, limits.max_continuations);
  nghttp2_option_set_max_settings(option.p, limits.max_settings);
  nghttp2_option_set_max_outbound_ack(option.p, limits.max_outbound_ack);
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, callbacks.p, this, option.p);
  session_.reset(session);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<std::uint32_t>(limits.max_header_list_bytes)},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  // The last entry only when extended CONNECT is on.
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings,
                          std::size(settings) - (limits.extended_connect ? 0 : 1));
  const std::uint64_t connection_window = std::min<std::uint64_t>(
      std::uint64_t{limits.stream_window} * limits.max_concurrent_streams, NGHTTP2_MAX_WINDOW_SIZE);
  nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(connection_window));
}

Http2Session::~Http2Session() = default;

Http2Session::Stream* Http2Session::find(std::int32_t id) {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int Http2Session::Callbacks::on_frame(Http2Session& s, const nghttp2_frame* frame) {
  const std::int32_t id = frame->hd.stream_id;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* stream = s.find(id);
      if (stream == nullptr) return 0;
      if (stream->too_large) {
        // 431 like HTTP/1.1's answer, on this stream only; the rest of the connection goes on.
        if (!stream->responded) {
          stream->responded = true;
          const Fields none;
          s.respond(id, 431, none, false);
          s.limit_fired(Limit::header_list,
                        "request answered 431: decoded header list over h2-max-header-bytes " +
                            std::to_string(s.limits_.max_header_list_bytes));
        }
        return 0;
      }
      if (stream->in_trailers) {
        if (end_stream) s.events_.on_request_end(id, stream->trailers);
        return 0;
      }
      s.flood_ = std::min<std::int64_t>(s.flood_ + s.limits_.flood_refill, s.limits_.flood_budget);
      s.events_.on_request(id, stream->request, end_stream);
      if (end_stream && s.find(id) != nullptr) s.events_.on_request_end(id, stream->trailers);
      return 0;
    }
    case NGHTTP2_DATA:
      if (frame->hd.length == 0 && !end_stream) s.charge_flood("empty DATA frames");
      if (end_stream) {
        Stream* stream = s.find(id);
        if (stream != nullptr && !stream->too_large) s.events_.on_request_end(id, stream->trailers);
      }
      return 0;
    case NGHTTP2_RST_STREAM: {
      const Stream* stream = s.find(id);
      if (stream == nullptr) {
        s.charge_flood("RST_STREAM frames for closed streams");
      } else if (--s.resets_ < 0) {
        s.enhance_your_calm("rapid reset: the client cancelled " +
                            std::to_string(s.limits_.reset_budget) +
                            " more streams than it let finish (h2-reset-budget)");
      }
      return 0;
    }
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) s.charge_flood("SETTINGS frames");
      return 0;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) s.charge_flood("PING frames");
      return 0;
    case NGHTTP2_WINDOW_UPDATE:
      s.charge_flood("WINDOW_UPDATE frames");
      return 0;
    case NGHTTP2_PRIORITY:
      s.charge_flood("PRIORITY frames");
      return 0;
    default:
      return 0;
  }
}

void Http2Session::charge_flood(const char* what) {
  if (--flood_ < 0 && !failed_)
    enhance_your_calm(std::string("flood of ") + what + ": more than " +
                      std::to_string(limits_.flood_budget) +
                      " frames that asked for nothing (h2-flood-budget)");
}

void Http2Session::limit_fired(Limit kind, std::string_view what) {
  const auto bit = static_cast<unsigned>(kind);
  if ((limits_fired_ & bit) != 0) return;
  limits_fired_ |= bit;
  events_.on_limit(what);
}

void Http2Session::fail_fatal(int lib_error) {
  if (!failed_) {
    error_ = nghttp2_strerror(lib_error);
    // The two that are limits of ours say which option to look at.
    if (lib_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
      error_ = "CONTINUATION flood: more than " + std::to_string(limits_.max_continuations) +
               " CONTINUATION frames after one HEADERS (h2-max-continuations)";
    else if (lib_error == NGHTTP2_ERR_FLOODED)
      error_ += " (h2-max-queued-acks " + std::to_string(limits_.max_outbound_ack) + ")";
  }
  failed_ = fatal_ = true;
  // nghttp2 sends nothing more after a fatal error; the peer still deserves to know why, and
  // which streams were taken (RFC 9113 6.8).
  const bool calm =
      lib_error == NGHTTP2_ERR_FLOODED || lib_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
  const std::uint32_t code = calm                                        ? NGHTTP2_ENHANCE_YOUR_CALM
                             : lib_error == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? NGHTTP2_PROTOCOL_ERROR
                                                                         : NGHTTP2_INTERNAL_ERROR;
  const auto last = static_cast<std::uint32_t>(
      std::max(nghttp2_session_get_last_proc_stream_id(session_.get()), 0));
  const unsigned char goaway[17] = {0,
                                    0,
                                    8,  // payload length
                                    NGHTTP2_GOAWAY,
                                    0,
                                    0,
                                    0,
                                    0,
                                    0,  // stream 0
                                    static_cast<unsigned char>(last >> 24),
                                    static_cast<unsigned char>(last >> 16),
                                    static_cast<unsigned char>(last >> 8),
                                    static_cast<unsigned char>(last),
                                    static_cast<unsigned char>(code >> 24),
                                    static_cast<unsigned char>(code >> 16),
                                    static_cast<unsigned char>(code >> 8),
                                    static_cast<unsigned char>(code)};
  out_.append(reinterpret_cast<const char*>(goaway), sizeof goaway);
}

void Http2Session::sweep_stalled() {
  if (failed_) return;
  bool connection_shut = false;
  std::vector<std::int32_t> stalled;
  for (auto& [id, stream] : streams_) {
    const bool waiting = stream->queued() > 0;
    if (waiting && !std::exchange(stream->progressed, false)) {
      if (nghttp2_session_get_stream_remote_window_size(session_.get(), id) <= 0)
        stalled.push_back(id);
      else if (nghttp2_session_get_remote_window_size(session_.get()) <= 0)
        connection_shut = true;
    }
  }
  if (connection_shut) {
    enhance_your_calm("the client kept the connection's flow-control window shut for " +
                      std::to_string(limits_.stall_timeout.count()) +
                      " ms (h2-stall-timeout) with responses waiting");
    return;
  }
  for (const std::int32_t id : stalled) reset(id, NGHTTP2_CANCEL);
  if (!stalled.empty())
    limit_fired(Limit::stalled, "stream reset (CANCEL): its flow-control window stayed shut for " +
                                    std::to_string(limits_.stall_timeout.count()) +
                                    " ms (h2-stall-timeout)");
}

void Http2Session::enhance_your_calm(std::string why) {
  if (failed_) return;
  failed_ = true;
  error_ = std::move(why);
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
}

Http2Session::Status Http2Session::feed(std::span<const std::byte> bytes) {
  if (failed_) return Status::failed;
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const ssize_t n = nghttp2_session_mem_recv(session_.get(), data, bytes.size());
  if (exception_) {
    failed_ = true;
    error_ = "an event handler failed";
    nghttp2_session_terminate_session(session_.get(), NGHTTP2_INTERNAL_ERROR);
    std::rethrow_exception(std::exchange(exception_, nullptr));
  }
  if (n < 0 && !fatal_) fail_fatal(static_cast<int>(n));
  return failed_ ? Status::failed : Status::ok;
}

std::string_view Http2Session::output() {
  while (!fatal_ && out_.size() < limits_.output_high) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      fail_fatal(static_cast<int>(n));
      break;
    }
    if (n > 0) {
      out_.append(view(data, static_cast<std::size_t>(n)));
      continue;
    }
    // Nothing more to serialize: streams that drained below their low mark may queue more.
    if (writable_.empty()) break;
    for (const std::int32_t id : std::exchange(writable_, {}))
      if (find(id) != nullptr) events_.on_stream_writable(id);
  }
  return out_;
}

void Http2Session::consume_output(std::size_t n) {
  out_.erase(0, n);
}

namespace {

// ":status" and the fields as nghttp2 takes them; `digits` holds the status text.
std::vector<nghttp2_nv> status_fields(int status, const Fields& fields, char (&digits)[4]) {
  const auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size() + 1);
  nv.push_back(field(":status", std::string_view(digits, static_cast<std::size_t>(end - digits))));
  for (const auto& [name, value] : fields) nv.push_back(field(name, value));
  return nv;
}

}  // namespace

bool Http2Session::inform(std::int32_t stream, int status, const Fields& fields) {
  Stream* s = find(stream);
  if (s == nullptr || s->responded || status < 100 || status > 199 || status == 101) return false;
  char digits[4];
  const auto nv = status_fields(status, fields, digits);
  return nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream, nullptr, nv.data(),
                                nv.size(), nullptr) >= 0;
}

bool Http2Session::respond(std::int32_t stream, int status, const Fields& fields, bool has_body) {
  Stream* s = find(stream);
  if (s == nullptr) return false;
  s->responded = true;
  char digits[4];
  const auto nv = status_fields(status, fields, digits);
  nghttp2_data_provider provider{};
  provider.source.ptr = s;
  provider.read_callback = Callbacks::read_body;
  return nghttp2_submit_response(session_.get(), stream, nv.data(), nv.size(),
                                 has_body ? &provider : nullptr) == 0;
}

bool Http2Session::write(std::int32_t stream, std::span<const std::byte> bytes) {
  Stream* s = find(stream);
  if (s == nullptr || s->eof) return false;
  // A response that had nothing queued begins a new wait on the peer now, not at the last sweep.
  if (s->queued() == 0 && !bytes.empty()) s->progressed = true;
  s->queue.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (s->deferred && !bytes.empty()) {
    s->deferred = false;
    nghttp2_session_resume_data(session_.get(), stream);
  }
  if (s->queued() > limits_.stream_high) s->above_high = true;
  return !s->above_high;
}

void Http2Session::end(std::int32_t stream, const Fields& trailers) {
  Stream* s = find(stream);
  if (s == nullptr || s->eof) return;
  s->eof = true;
  s->response_trailers = trailers;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(session_.get(), stream);
  }
}

void Http2Session::reset(std::int32_t stream, std::uint32_t error_code) {
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream, error_code);
}

void Http2Session::consume(std::int32_t stream, std::size_t n) {
  Stream* s = find(stream);
  if (s == nullptr) return;
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  nghttp2_session_consume(session_.get(), stream, n);
}

void Http2Session::shutdown() {
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_.get()), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

void Http2Session::terminate(std::uint32_t error_code) {
  nghttp2_session_terminate_session(session_.get(), error_code);
}

bool Http2Session::done() const {
  if (fatal_) return out_.empty();
  return nghttp2_session_want_read(session_.get()) == 0 &&
         nghttp2_session_want_write(session_.get()) == 0 && out_.empty();
}

std::size_t Http2Session::queued(std::int32_t stream) const {
  const auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second->queued();
}

}  // namespace apps::http
