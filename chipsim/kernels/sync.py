"""What the workers of a parallel kernel share: an atomic add (``fetch_add``) and an atomic
read (``load``) of one int64; the processor's cycle counter (``cycles``), which the loop
reads around its phases (records.Stack.clock); and a prefetch hint (``prefetch``), with which
a worker brings what it reads next, and another worker wrote or read last, into its own
caches ahead of time.

Numba has no atomics on the CPU, so this is an LLVM ``atomicrmw add`` (sequentially
consistent) on one int64 element of an array, emitted as a Numba intrinsic. The workers of
``loop._par`` use it as a shared ticket counter: each takes the next unit of a job (a sample,
for instance) when it has finished its last one, so a worker that is slower, or was woken
later, takes fewer units and neither waits for the other at the end. Which worker runs a unit
changes from run to run; what a unit computes does not (each unit writes only its own
results, with the arithmetic of one thread), so results stay bit-identical.

Its plain reference is ``fetch_add_reference``: the same on one thread.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic


def _item_pointer(context, builder, signature, args):
    """An intrinsic's code: the address of element args[1] of the 1-d array args[0]."""
    aty, ity = signature.args[:2]
    ary = context.make_array(aty)(context, builder, args[0])
    idx = context.cast(builder, args[1], ity, types.intp)
    return cgutils.get_item_pointer(context, builder, aty, ary, [idx], wraparound=False)


@intrinsic
def fetch_add(typingctx, arr, i, v):
    """``old = arr[i]; arr[i] += v; return old``, atomically (arr: a 1-d int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1
            and isinstance(i, types.Integer) and isinstance(v, types.Integer)):
        return None
    sig = types.int64(arr, i, v)

    def codegen(context, builder, signature, args):
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", _item_pointer(context, builder, signature, args), val,
                                  "seq_cst")

    return sig, codegen


def fetch_add_reference(arr, i, v):
    """The plain reference of ``fetch_add``: the same, not atomic."""
    old = int(arr[i])
    arr[i] += v
    return old


@intrinsic
def load(typingctx, arr, i):
    """``arr[i]``, read atomically (acquire: what the writer wrote before its atomic store or
    add is visible after it); a loop waiting on it re-reads memory every time."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1
            and isinstance(i, types.Integer)):
        return None
    sig = types.int64(arr, i)

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_item_pointer(context, builder, signature, args), "acquire", 8)

    return sig, codegen


#: the spin-wait hint's LLVM intrinsic on this machine (x86: ``pause``), or none
_PAUSE = ("llvm.x86.sse2.pause"
          if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686") else "")


@intrinsic
def pause(typingctx):
    """A spin-wait hint (x86 ``pause``; nothing elsewhere): a worker waiting in a loop on
    ``load`` leaves the core's resources to a thread that shares it, as libgomp's own waiting
    does."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _PAUSE:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), _PAUSE)
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def cycles(typingctx):
    """The processor's cycle counter (LLVM ``readcyclecounter``: x86 ``rdtsc``, a constant-rate
    clock on current x86; 0 where the target has none). About 20 cycles a read: the loop reads
    it around its phases, a few times per step, never per event (loop, ``CLK_*``)."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), []), "llvm.readcyclecounter")
        return builder.call(fn, [])

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, i):
    """A hint to bring the cache line of arr[i] (a 1-d array) near the core (LLVM
    ``llvm.prefetch``, read, all cache levels): nothing else happens, no fault either."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
        return None
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        ptr = _item_pointer(context, builder, signature, args)
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
