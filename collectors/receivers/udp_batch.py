"""Batched UDP reads: many datagrams per system call (Linux ``recvmmsg``), else one ``recvmsg_into`` a call.

A receiver thread that reads one datagram per call releases and retakes the GIL for every datagram,
and under load each retake waits for the thread that took it (the writer): at 50,000 datagrams a
second that hand-off is most of the receiver's time. ``recvmmsg`` called through ``ctypes.PyDLL``
keeps the GIL (the socket is non-blocking, so the call never waits) and fills up to ``BATCH``
buffers at once. The kernel's drop counter (``SO_RXQ_OVFL``) rides on each datagram as ancillary
data; the last datagram of a read carries the newest value.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
import sys

BATCH = 64
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)
_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0x40)
_CMSG_SPACE = socket.CMSG_SPACE(4)
_CMSG_HEADER = ctypes.sizeof(ctypes.c_size_t) + 2 * ctypes.sizeof(ctypes.c_int)  # cmsg_len, level, type


class _IOVec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class _MsgHdr(ctypes.Structure):
    _fields_ = (
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_IOVec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    )


class _MMsgHdr(ctypes.Structure):
    _fields_ = (("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint))


def _recvmmsg() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.PyDLL(None, use_errno=True).recvmmsg  # PyDLL: the GIL stays held (the call never blocks)
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = (ctypes.c_int, ctypes.POINTER(_MMsgHdr), ctypes.c_uint, ctypes.c_int, ctypes.c_void_p)
    return fn


_RECVMMSG = _recvmmsg()


class DatagramReader:
    """Reads what a non-blocking UDP socket holds, ``read()`` at a time.

    ``read()`` returns (datagrams, kernel drop count or None) and raises BlockingIOError when nothing
    is waiting, OSError on a socket error, like ``socket.recvmsg_into``. Each datagram is at most
    ``max_bytes`` long (a longer one reads as ``max_bytes`` bytes: size the buffer one past the limit).
    """

    def __init__(self, sock: socket.socket, max_bytes: int, *, drops: bool, batch: int = BATCH) -> None:
        self._sock = sock
        self._max = max_bytes
        self._anc = _CMSG_SPACE if drops else 0
        self._batched = _RECVMMSG is not None
        slots = batch if self._batched else 1
        self._data = bytearray(max_bytes * slots)
        self._view = memoryview(self._data)
        if not self._batched:
            self._into = [self._data]
            return
        self._slots = slots
        self._control = (ctypes.c_char * max(self._anc * slots, 1))()
        self._pinned = (ctypes.c_char * len(self._data)).from_buffer(self._data)  # the bytearray cannot move
        base = ctypes.addressof(self._pinned)
        self._iov = (_IOVec * slots)()
        self._msgs = (_MMsgHdr * slots)()
        control = ctypes.addressof(self._control)
        for i in range(slots):
            self._iov[i].iov_base = base + i * max_bytes
            self._iov[i].iov_len = max_bytes
            hdr = self._msgs[i].msg_hdr
            hdr.msg_iov = ctypes.pointer(self._iov[i])
            hdr.msg_iovlen = 1
            hdr.msg_control = control + i * self._anc if self._anc else None
            hdr.msg_controllen = self._anc

    def read(self) -> tuple[list[bytes], int | None]:
        if not self._batched:
            return self._read_one()
        msgs = self._msgs
        if self._anc:
            for i in range(self._slots):  # the kernel shortens it to what it wrote
                msgs[i].msg_hdr.msg_controllen = self._anc
        fd = self._sock.fileno()  # -1 once closed: EBADF, never a descriptor reused since
        n = _RECVMMSG(fd, msgs, self._slots, _MSG_DONTWAIT, None)  # type: ignore[operator]
        if n < 0:
            code = ctypes.get_errno()
            if code in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise BlockingIOError(code, "no datagram waiting")
            raise OSError(code, f"recvmmsg: {errno.errorcode.get(code, code)}")
        view = self._view
        size = self._max
        datagrams = [bytes(view[i * size : i * size + msgs[i].msg_len]) for i in range(n)]
        return datagrams, self._drops(n - 1) if self._anc and n else None

    def _drops(self, i: int) -> int | None:
        hdr = self._msgs[i].msg_hdr
        if hdr.msg_controllen < _CMSG_HEADER + 4:
            return None
        raw = ctypes.string_at(hdr.msg_control, _CMSG_HEADER + 4)
        _length, level, kind = struct.unpack_from("@Nii", raw)
        if level != socket.SOL_SOCKET or kind != _SO_RXQ_OVFL:
            return None
        return int(struct.unpack_from("=I", raw, _CMSG_HEADER)[0])

    def _read_one(self) -> tuple[list[bytes], int | None]:
        nbytes, anc, _flags, _addr = self._sock.recvmsg_into(self._into, self._anc)
        drops = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == _SO_RXQ_OVFL and len(payload) >= 4:
                drops = int(struct.unpack("=I", payload[:4])[0])
        return [self._view[:nbytes].tobytes()], drops
