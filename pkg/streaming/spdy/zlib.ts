// Header block compression: one zlib context per direction for the life of the connection,
// primed with the SPDY/3 dictionary, each block ended with Z_SYNC_FLUSH so the peer can
// decode it at once. Node's zlib streams are asynchronous; calls are queued so blocks are
// compressed and decompressed in the order the frames are sent or received.
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import { parseHeaders, serializeHeaders, SpdyProtocolError, type HeaderBlock } from './frames.js';

/** Largest header block berth accepts after decompression (a bound on a hostile peer). */
const MAX_HEADER_BLOCK = 256 * 1024;

class ZlibQueue {
  private chunks: Buffer[] = [];
  private size = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly z: zlib.Inflate | zlib.Deflate) {
    z.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.size += c.length;
    });
    // Errors surface through the write callbacks; this keeps an 'error' event from throwing.
    z.on('error', () => {});
  }

  run(input: Buffer): Promise<Buffer> {
    const p = this.chain.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          this.z.write(input, (err) => {
            const out = Buffer.concat(this.chunks, this.size);
            this.chunks = [];
            this.size = 0;
            if (err) reject(new SpdyProtocolError(`header block zlib: ${err.message}`));
            else if (out.length > MAX_HEADER_BLOCK) reject(new SpdyProtocolError('header block too large'));
            else resolve(out);
          });
        }),
    );
    this.chain = p.catch(() => {});
    return p;
  }

  close(): void {
    this.z.close();
  }
}

export class HeaderCodec {
  private readonly deflate = new ZlibQueue(
    zlib.createDeflate({ dictionary: SPDY3_DICTIONARY, flush: zlib.constants.Z_SYNC_FLUSH }),
  );
  private readonly inflate = new ZlibQueue(
    zlib.createInflate({ dictionary: SPDY3_DICTIONARY, flush: zlib.constants.Z_SYNC_FLUSH }),
  );

  encode(headers: HeaderBlock): Promise<Buffer> {
    return this.deflate.run(serializeHeaders(headers));
  }

  async decode(block: Buffer): Promise<HeaderBlock> {
    if (block.length === 0) return {};
    return parseHeaders(await this.inflate.run(block));
  }

  close(): void {
    this.deflate.close();
    this.inflate.close();
  }
}
