/**
 * Unit tests of the stream decoders: `LengthDecoder` (uint32 BE length + payload) and
 * `LineDecoder` (`\n`-terminated lines), fed chunks split at every possible offset.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LengthDecoder, LineDecoder, type FrameDecoder } from '../../framework/transport/framing.js'
import type { SdError } from '../../framework/core/errors.js'

/** Wire bytes of one `length` frame, written by hand from the protocol (not by the framework). */
function lengthFrame (payload: Buffer | string): Buffer {
  const body = Buffer.from(payload)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

/** A decoder plus what it emitted; payloads are copied (they are only valid during the call). */
function collectLength (max: number): { decoder: LengthDecoder, frames: string[] } {
  const frames: string[] = []
  const decoder = new LengthDecoder(max, (p) => { frames.push(Buffer.from(p).toString('utf8')) })
  return { decoder, frames }
}

function collectLines (max: number): { decoder: LineDecoder, frames: string[] } {
  const frames: string[] = []
  const decoder = new LineDecoder(max, (p) => { frames.push(Buffer.from(p).toString('utf8')) })
  return { decoder, frames }
}

/** Feeds chunks; fails on the first error. */
function feed (decoder: FrameDecoder, chunks: Buffer[]): void {
  for (const [i, chunk] of chunks.entries()) {
    const err = decoder.push(chunk)
    assert.equal(err, undefined, `chunk ${i} returned ${err?.code}: ${err?.message}`)
  }
}

/** Splits `buf` at each offset in `cuts` (ascending). */
function splitAt (buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = []
  let prev = 0
  for (const c of cuts) {
    out.push(buf.subarray(prev, c))
    prev = c
  }
  out.push(buf.subarray(prev))
  return out
}

function assertTooLarge (err: SdError | undefined): void {
  assert.ok(err, 'expected an error')
  assert.equal(err.code, 'SD_ERR_FRAME_TOO_LARGE')
}

describe('LengthDecoder', () => {
  // A stream with a normal frame, a zero-length frame, a multi-byte UTF-8 frame and a frame
  // whose length has non-zero high bytes in its header (300 > 255).
  const payloads = ['{"id":1,"path":"/a"}', '', 'héllo ✓ wörld', 'x'.repeat(300), 'end']
  const stream = Buffer.concat(payloads.map(lengthFrame))

  test('whole stream in one chunk: every frame, in order', () => {
    const { decoder, frames } = collectLength(1024)
    feed(decoder, [stream])
    assert.deepEqual(frames, payloads)
    assert.equal(decoder.buffered, 0)
  })

  test('split into two chunks at every byte offset (headers split too)', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { decoder, frames } = collectLength(1024)
      feed(decoder, splitAt(stream, [cut]))
      assert.deepEqual(frames, payloads, `split at ${cut}`)
      assert.equal(decoder.buffered, 0, `split at ${cut}: nothing left buffered`)
    }
  })

  test('split into three chunks at every pair of offsets within the first frames', () => {
    // Every pair of cuts inside the first three frames (covers a header split twice).
    const limit = lengthFrame(payloads[0]).length + lengthFrame(payloads[1]).length + lengthFrame(payloads[2]).length + 2
    for (let a = 0; a <= limit; a++) {
      for (let b = a; b <= limit; b++) {
        const { decoder, frames } = collectLength(1024)
        feed(decoder, splitAt(stream, [a, b]))
        assert.deepEqual(frames, payloads, `split at ${a}, ${b}`)
      }
    }
  })

  test('one byte at a time', () => {
    const { decoder, frames } = collectLength(1024)
    const seen: number[] = []
    for (let i = 0; i < stream.length; i++) {
      feed(decoder, [stream.subarray(i, i + 1)])
      seen.push(frames.length)
    }
    assert.deepEqual(frames, payloads)
    // A frame is emitted exactly when its last byte arrives, not before.
    let end = 0
    for (const [i, p] of payloads.entries()) {
      end += 4 + Buffer.byteLength(p)
      assert.equal(seen[end - 1], i + 1, `frame ${i} complete at byte ${end - 1}`)
      if (end >= 2 && Buffer.byteLength(p) > 0) assert.equal(seen[end - 2], i, `frame ${i} not emitted early`)
    }
  })

  test('many frames in one chunk', () => {
    const many = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: i }))
    const { decoder, frames } = collectLength(1024)
    feed(decoder, [Buffer.concat(many.map(lengthFrame))])
    assert.equal(frames.length, 5000)
    assert.deepEqual(frames, many)
  })

  test('zero-length frames alone, split and back to back', () => {
    const empty = lengthFrame('')
    const { decoder, frames } = collectLength(16)
    feed(decoder, [Buffer.concat([empty, empty, empty])])
    assert.deepEqual(frames, ['', '', ''])
    feed(decoder, [empty.subarray(0, 2), empty.subarray(2)])
    assert.deepEqual(frames, ['', '', '', ''])
    assert.equal(decoder.buffered, 0)
  })

  test('a frame of exactly the limit is accepted', () => {
    const { decoder, frames } = collectLength(64)
    feed(decoder, [lengthFrame('y'.repeat(64))])
    assert.deepEqual(frames, ['y'.repeat(64)])
  })

  test('a header announcing more than the limit is refused at once, before any payload', () => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(65, 0)
    const { decoder, frames } = collectLength(64)
    assertTooLarge(decoder.push(head))
    assert.deepEqual(frames, [])
    assert.equal(decoder.buffered, 0, 'nothing buffered for the refused frame')
  })

  test('an oversized header is refused even when split across chunks', () => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(0xffffffff, 0)
    for (let cut = 1; cut < 4; cut++) {
      const { decoder } = collectLength(2 * 1024 * 1024)
      assert.equal(decoder.push(head.subarray(0, cut)), undefined, `first part of a header split at ${cut}`)
      assertTooLarge(decoder.push(head.subarray(cut)))
    }
  })

  test('an oversized header after a valid frame in the same chunk is refused, the valid frame is delivered', () => {
    const big = Buffer.alloc(4)
    big.writeUInt32BE(1000, 0)
    const { decoder, frames } = collectLength(100)
    assertTooLarge(decoder.push(Buffer.concat([lengthFrame('ok'), big])))
    assert.deepEqual(frames, ['ok'])
  })

  test('an oversized header following a partial frame is refused when it arrives', () => {
    const big = Buffer.alloc(4)
    big.writeUInt32BE(1000, 0)
    const first = lengthFrame('abcdef')
    const { decoder, frames } = collectLength(100)
    assert.equal(decoder.push(first.subarray(0, 6)), undefined)
    assertTooLarge(decoder.push(Buffer.concat([first.subarray(6), big])))
    assert.deepEqual(frames, ['abcdef'])
  })

  test('a partial frame is reported as buffered', () => {
    const { decoder } = collectLength(100)
    feed(decoder, [lengthFrame('abcdef').subarray(0, 7)])
    assert.ok(decoder.buffered > 0)
  })
})

describe('LineDecoder', () => {
  const text = 'one\ntwo\r\n\nthr€e\r\nlast\n'
  const expected = ['one', 'two', '', 'thr€e', 'last']
  const stream = Buffer.from(text)

  test('lines in one chunk; \\r\\n and \\n both end a line, \\r is dropped', () => {
    const { decoder, frames } = collectLines(64)
    feed(decoder, [stream])
    assert.deepEqual(frames, expected)
    assert.equal(decoder.buffered, 0)
  })

  test('split into two chunks at every byte offset (between \\r and \\n too)', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { decoder, frames } = collectLines(64)
      feed(decoder, splitAt(stream, [cut]))
      assert.deepEqual(frames, expected, `split at ${cut}`)
    }
  })

  test('split into three chunks at every pair of offsets', () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const { decoder, frames } = collectLines(64)
        feed(decoder, splitAt(stream, [a, b]))
        assert.deepEqual(frames, expected, `split at ${a}, ${b}`)
      }
    }
  })

  test('one byte at a time', () => {
    const { decoder, frames } = collectLines(64)
    for (let i = 0; i < stream.length; i++) feed(decoder, [stream.subarray(i, i + 1)])
    assert.deepEqual(frames, expected)
  })

  test('an unterminated line is held, not emitted', () => {
    const { decoder, frames } = collectLines(64)
    feed(decoder, [Buffer.from('a\npartial')])
    assert.deepEqual(frames, ['a'])
    assert.equal(decoder.buffered, 'partial'.length)
    feed(decoder, [Buffer.from(' line\n')])
    assert.deepEqual(frames, ['a', 'partial line'])
  })

  test('many lines in one chunk', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `line ${i}`)
    const { decoder, frames } = collectLines(64)
    feed(decoder, [Buffer.from(many.join('\n') + '\n')])
    assert.deepEqual(frames, many)
  })

  test('a line of exactly the limit is accepted', () => {
    const { decoder, frames } = collectLines(16)
    feed(decoder, [Buffer.from('z'.repeat(16) + '\n')])
    assert.deepEqual(frames, ['z'.repeat(16)])
  })

  test('a complete line over the limit is refused', () => {
    const { decoder, frames } = collectLines(16)
    assertTooLarge(decoder.push(Buffer.from('ok\n' + 'z'.repeat(17) + '\n')))
    assert.deepEqual(frames, ['ok'])
  })

  test('a line over the limit without a newline is refused as soon as the limit is passed', () => {
    const { decoder, frames } = collectLines(16)
    assertTooLarge(decoder.push(Buffer.from('z'.repeat(17))))
    assert.deepEqual(frames, [])
  })

  test('a line growing over the limit across chunks is refused without waiting for its newline', () => {
    const { decoder, frames } = collectLines(16)
    assert.equal(decoder.push(Buffer.from('z'.repeat(10))), undefined)
    assert.equal(decoder.push(Buffer.from('z'.repeat(6))), undefined, 'exactly the limit is still fine')
    assertTooLarge(decoder.push(Buffer.from('z')))
    assert.deepEqual(frames, [])
  })

  test('a line completed over the limit in a later chunk is refused', () => {
    const { decoder, frames } = collectLines(16)
    assert.equal(decoder.push(Buffer.from('z'.repeat(16))), undefined)
    assertTooLarge(decoder.push(Buffer.from('zz\n')))
    assert.deepEqual(frames, [])
  })
})

describe('stopping and resuming (a handler returns false)', () => {
  /** A decoder whose handler says stop while `stopAt` has the frame's text; payloads are kept as views. */
  function stoppable (make: (onFrame: (p: Buffer) => boolean) => FrameDecoder, stopAt: Set<string>): { decoder: FrameDecoder, frames: string[], views: Buffer[] } {
    const frames: string[] = []
    const views: Buffer[] = []
    const decoder = make((p) => {
      frames.push(p.toString('utf8'))
      views.push(p)
      return !stopAt.has(p.toString('utf8'))
    })
    return { decoder, frames, views }
  }

  test('length: stops after the frame, holds the rest of the chunk and later chunks, resumes in order', () => {
    const stopAt = new Set(['b', 'e'])
    const { decoder, frames, views } = stoppable((f) => new LengthDecoder(100, f), stopAt)
    const chunk = Buffer.concat(['a', 'b', 'c', 'd'].map(lengthFrame))
    const second = Buffer.concat([lengthFrame('e'), lengthFrame('f').subarray(0, 3)])
    feed(decoder, [chunk, second])
    assert.deepEqual(frames, ['a', 'b'])
    assert.equal(decoder.stopped, true)
    assert.equal(decoder.resume(), undefined)
    assert.deepEqual(frames, ['a', 'b', 'c', 'd', 'e'], 'stops again at e')
    assert.equal(decoder.stopped, true)
    assert.equal(decoder.resume(), undefined)
    assert.equal(decoder.stopped, false)
    feed(decoder, [lengthFrame('f').subarray(3)])
    assert.deepEqual(frames, ['a', 'b', 'c', 'd', 'e', 'f'])
    // frames read after a stop are views of the chunk they came in, not copies
    assert.equal(views[2].buffer, chunk.buffer)
    assert.equal(views[2].byteOffset, chunk.byteOffset + 2 * lengthFrame('a').length + 4)
  })

  test('line: stops after the line, resumes with the rest, then the chunks pushed meanwhile', () => {
    const { decoder, frames, views } = stoppable((f) => new LineDecoder(100, f), new Set(['one']))
    const chunk = Buffer.from('one\ntwo\r\nthr')
    feed(decoder, [chunk, Buffer.from('ee\nfour\n')])
    assert.deepEqual(frames, ['one'])
    assert.equal(decoder.resume(), undefined)
    assert.deepEqual(frames, ['one', 'two', 'three', 'four'])
    assert.equal(views[1].buffer, chunk.buffer, 'the held line is a view of its chunk')
    assert.equal(decoder.stopped, false)
  })

  test('a limit error found after resuming is returned by resume()', () => {
    const { decoder, frames } = stoppable((f) => new LengthDecoder(4, f), new Set(['a']))
    const big = Buffer.alloc(4)
    big.writeUInt32BE(5, 0)
    feed(decoder, [Buffer.concat([lengthFrame('a'), big])])
    assert.deepEqual(frames, ['a'])
    assert.equal(decoder.resume()?.code, 'SD_ERR_FRAME_TOO_LARGE')
  })
})
