'use strict';
// Framing (protocol.md section 3): a header block, the JSON-RPC message, then an optional raw attachment.
//
//   Content-Length: <n>\r\n
//   Attachment-Length: <m>\r\n      (optional, absent means 0)
//   \r\n
//   <n bytes of UTF-8 JSON><m raw bytes>
//
// The decoder is a small state machine fed with whatever chunks the pipe delivers: a frame may be split across
// chunks, and one chunk may hold many frames. Attachments stay Buffers from end to end, never strings.

const MAX_HEADER_BYTES = 4096; // the header lines, not counting the empty line that closes the block
const TERMINATOR = Buffer.from('\r\n\r\n');
const RESYNC_MARK = 'content-length:'; // resynchronise at the next one, anywhere, in any case

/** Encode one frame (a message object or its JSON bytes) as Buffers to write in order; the attachment is not copied. */
function encodeFrame(message, attachment) {
  const body = Buffer.isBuffer(message) ? message : Buffer.from(JSON.stringify(message), 'utf8');
  let header = `Content-Length: ${body.length}\r\n`;
  if (attachment && attachment.length > 0) header += `Attachment-Length: ${attachment.length}\r\n`;
  const head = Buffer.concat([Buffer.from(header + '\r\n', 'latin1'), body]);
  return attachment && attachment.length > 0 ? [head, attachment] : [head];
}

/** Parse a header block (without its closing empty line): {n, m} or {error: reason}. */
function parseHeader(block) {
  let n = null;
  let m = null;
  for (const line of block.toString('latin1').split('\r\n')) {
    if (line === '') continue; // a stray empty line before the headers
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `malformed header line ${JSON.stringify(line.slice(0, 80))}` };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name !== 'content-length' && name !== 'attachment-length') continue; // unknown headers are ignored
    // Decimal, no sign; more than 15 digits cannot be a real length (and would lose precision).
    if (!/^[0-9]{1,15}$/.test(value)) return { error: `bad ${name} ${JSON.stringify(value.slice(0, 40))}` };
    const length = Number(value);
    if (name === 'content-length') {
      if (n !== null && n !== length) return { error: 'conflicting Content-Length headers' };
      n = length;
    } else {
      if (m !== null && m !== length) return { error: 'conflicting Attachment-Length headers' };
      m = length;
    }
  }
  if (n === null) return { error: 'missing Content-Length' };
  return { n, m: m === null ? 0 : m };
}

/**
 * Incremental frame decoder. `onFrame(message: Buffer, attachment: Buffer)` gets each complete frame;
 * `onError(reason)` gets each malformed or oversized one (the caller answers -32600 with id null).
 * `limits` holds the receiver's max_message_bytes and max_attachment_bytes.
 */
class FrameDecoder {
  constructor(limits, onFrame, onError) {
    this.limits = limits;
    this.onFrame = onFrame;
    this.onError = onError;
    this.state = 'header'; // header | body | skip | resync
    this.pending = Buffer.alloc(0); // unparsed bytes kept between chunks (header and resync states only)
    this.frame = null; // body state: {buffer, filled, n}
    this.remaining = 0; // skip state: bytes still to drop
  }

  feed(chunk) {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let pos = 0;
    while (pos < data.length) {
      if (this.state === 'header') {
        const window = data.subarray(pos, pos + MAX_HEADER_BYTES + TERMINATOR.length);
        const end = window.indexOf(TERMINATOR);
        if (end === -1) {
          if (window.length >= MAX_HEADER_BYTES + TERMINATOR.length) {
            // No end of the block in time: answer, then look for the next Content-Length after its first byte.
            this.onError(`header block longer than ${MAX_HEADER_BYTES} bytes`);
            this.state = 'resync';
            pos += 1;
            continue;
          }
          this.pending = Buffer.from(window); // wait for the rest of the header block
          return;
        }
        const parsed = parseHeader(window.subarray(0, end));
        pos += end + TERMINATOR.length;
        if (parsed.error) {
          this.onError(parsed.error);
          this.state = 'resync'; // the bad block is consumed: the next frame may follow at once
        } else if (parsed.n > this.limits.max_message_bytes || parsed.m > this.limits.max_attachment_bytes) {
          // Oversized: answer, then skip exactly n + m bytes without storing them.
          const which = parsed.n > this.limits.max_message_bytes
            ? `message of ${parsed.n} bytes is over max_message_bytes ${this.limits.max_message_bytes}`
            : `attachment of ${parsed.m} bytes is over max_attachment_bytes ${this.limits.max_attachment_bytes}`;
          this.onError(which);
          this.state = 'skip';
          this.remaining = parsed.n + parsed.m;
        } else {
          this.state = 'body';
          this.frame = { buffer: Buffer.allocUnsafe(parsed.n + parsed.m), filled: 0, n: parsed.n };
        }
      } else if (this.state === 'body') {
        const f = this.frame;
        const take = Math.min(f.buffer.length - f.filled, data.length - pos);
        data.copy(f.buffer, f.filled, pos, pos + take);
        f.filled += take;
        pos += take;
        if (f.filled === f.buffer.length) this.finishFrame();
      } else if (this.state === 'skip') {
        const take = Math.min(this.remaining, data.length - pos);
        this.remaining -= take;
        pos += take;
        if (this.remaining === 0) this.state = 'header';
      } else {
        // resync: drop bytes up to the next "Content-Length:" (a frame need not start a line).
        // latin1 maps each byte to one character, so string offsets are byte offsets.
        const found = data.toString('latin1', pos).toLowerCase().indexOf(RESYNC_MARK);
        if (found !== -1) {
          pos += found;
          this.state = 'header';
          continue;
        }
        // Keep a tail that could be the start of the mark; drop the rest.
        const keep = Math.min(RESYNC_MARK.length - 1, data.length - pos);
        this.pending = Buffer.from(data.subarray(data.length - keep));
        return;
      }
    }
    // A zero-length frame (n = 0, m = 0) completes without any byte after its header.
    if (this.state === 'body' && this.frame.buffer.length === 0) this.finishFrame();
  }

  finishFrame() {
    const f = this.frame;
    this.frame = null;
    this.state = 'header';
    this.onFrame(f.buffer.subarray(0, f.n), f.buffer.subarray(f.n));
  }
}

module.exports = { encodeFrame, FrameDecoder, MAX_HEADER_BYTES };
