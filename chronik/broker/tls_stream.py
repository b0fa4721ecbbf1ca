"""TLS of one connection, sans-IO: ciphertext in and out through memory BIOs (the loop is in server.py).

The costs that are not AES are Python calls and copies per TLS record
(at most 16 KiB of plaintext each), so this module keeps both down:
- ciphertext is received into one scratch buffer shared by every
  connection (the loop is single-threaded) and handed to the incoming BIO
  as a view: no bytes object per read;
- plaintext is decrypted straight into the frame decoder's buffer, filling
  it record after record before the decoder is told (`read_into`), through
  the C object's bound `read` (`SSLObject.read` is a Python wrapper around
  it, one extra call per record);
- answers are encrypted a run at a time: small buffers (a frame's size and
  its body) are joined into one TLS record instead of one record each, and
  the ciphertext is kept as the BIO's chunks and sent with one `sendmsg`,
  never concatenated or shifted.
"""

from __future__ import annotations

import socket
import ssl
from collections import deque

from chronik.broker.streams import drop_sent

# Ciphertext read from a socket per recv; a turn of the loop reads at most 16 of these.
TLS_READ = 256 * 1024
# Answers up to this size are joined with their neighbours into one TLS record.
_SMALL = 16 * 1024
_MAX_IOV = 512

_scratch = bytearray(TLS_READ)
_scratch_view = memoryview(_scratch)


class TlsLayer:
    """The TLS state of one connection: the SSLObject, its BIOs and the ciphertext waiting for the socket."""

    __slots__ = ("obj", "inbio", "outbio", "raw_out", "raw_bytes", "established", "_read")

    def __init__(self, context: ssl.SSLContext) -> None:
        self.inbio = ssl.MemoryBIO()
        self.outbio = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.inbio, self.outbio, server_side=True)
        # `SSLObject.read` only forwards to the C object's method; calling that one saves a frame per record.
        self._read = getattr(getattr(self.obj, "_sslobj", None), "read", None) or self.obj.read
        self.raw_out: deque[memoryview] = deque()  # ciphertext not yet sent
        self.raw_bytes = 0
        self.established = False

    def has_input(self) -> bool:
        return bool(self.inbio.pending or self.obj.pending())

    def receive(self, sock: socket.socket, rounds: int = 16) -> bool:
        """Move the socket's ciphertext into the incoming BIO. False on EOF."""
        recv_into = sock.recv_into
        write = self.inbio.write
        for _ in range(rounds):
            try:
                n = recv_into(_scratch)
            except (BlockingIOError, InterruptedError):
                return True
            if n == 0:
                return False
            write(_scratch_view[:n])
            if n < TLS_READ:
                return True
        return True

    def read_into(self, buf: memoryview) -> int:
        """Decrypt into `buf` until it is full or no whole record is left: bytes written.

        -1 if the peer closed TLS (close_notify) before any byte was written.
        """
        read = self._read
        want = len(buf)
        got = 0
        try:
            while got < want:
                # Length 0: "up to the size of the buffer" in the C method, one subtraction and
                # len() fewer per record (3-4 % of the bare decrypt loop at 1.8 KB records).
                n = read(0, buf[got:] if got else buf)
                if n == 0:
                    return got or -1
                got += n
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            return got or -1
        return got

    def collect(self) -> bool:
        """Take the ciphertext the SSLObject produced (handshake, tickets, alerts). True if there was any."""
        if not self.outbio.pending:
            return False
        data = self.outbio.read()
        self.raw_out.append(memoryview(data))
        self.raw_bytes += len(data)
        return True

    def encrypt(self, out: deque[memoryview], limit: int) -> int:
        """Encrypt answers from `out` until `limit` ciphertext bytes wait: plaintext bytes taken."""
        write = self.obj.write
        taken = 0
        while out and self.raw_bytes < limit:
            head = out.popleft()
            if len(head) < _SMALL and out and len(out[0]) < _SMALL:
                # A run of small buffers: one record, not one per buffer.
                run = [head]
                size = len(head)
                while out and len(out[0]) < _SMALL and size < _SMALL:
                    nxt = out.popleft()
                    run.append(nxt)
                    size += len(nxt)
                write(b"".join(run))
                taken += size
            else:
                write(head)
                taken += len(head)
            self.collect()
        return taken

    def send(self, sock: socket.socket) -> bool:
        """Send waiting ciphertext. True if all of it went (OSError other than would-block propagates)."""
        raw = self.raw_out
        while raw:
            bufs = list(raw) if len(raw) <= _MAX_IOV else [raw[i] for i in range(_MAX_IOV)]
            try:
                sent = sock.sendmsg(bufs)
            except (BlockingIOError, InterruptedError):
                return False
            self.raw_bytes -= sent
            if drop_sent(raw, sent):
                return False  # the socket buffer is full
        return True
