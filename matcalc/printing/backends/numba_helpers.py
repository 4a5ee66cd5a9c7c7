"""Functions the numba backend's loops call, copied into a generated module by their source.

backends/numba.py reads this file as text (numba is an optional extra: matcalc never imports it
without numba); the tests import it where numba is installed.

`_exp` is exp(x) written so that LLVM vectorises the loop around it. NumPy's `np.exp` in a numba
loop is a call to libm per entry, which no loop vectorises (numba's SVML route needs an
SVML-patched llvmlite, which the wheels on the package index are not); four entries at a time
(with `_row_total`) took a softmax over 1024×1024 on two threads from a median of 6.0–6.2 ms to
3.4 ms here. The method (Cody & Waite 1980, Software
Manual for the Elementary Functions, ch. 6; Tang 1989, ACM TOMS 15:144):

- k = round(x/ln 2), by adding and subtracting 1.5·2⁵² (exact: |x/ln 2| < 2⁵¹ after the clamp);
- r = (x − k·ln2_hi) − k·ln2_lo, ln 2 split so that k·ln2_hi is exact (ln2_hi has 32 significant
  bits, |k| ≤ 1077), |r| ≤ ln(2)/2 + 2⁻³⁰;
- exp(r) by its Taylor polynomial of degree 13 in Horner's form: the remainder is below
  |r|¹⁴/14!·e^|r| < 7·10⁻¹⁸, a sixteenth of an ulp of exp(r) ≥ 0.7. Each Horner step is one
  fused multiply-add where the CPU has it (`_mul_add`, LLVM's fmuladd): on a Xeon with AVX-512,
  10⁶ entries on one core took 3.40 ms as products and sums, 2.17 ms fused;
- exp(x) = exp(r)·2^k1·2^k2, k1 = round(k/2), k2 = k − k1: each power a normal number built from
  its bits, so that an underflowing result (x < −708.4) is rounded once, as a subnormal.

x is clamped to [−746, 710] first (exp rounds to 0 below −745.14 and overflows above 709.79), and
NaN passes through. Within 1 ulp of NumPy's exp at 2·10⁷ random points of [−745.5, 709.8] and of
[−1, 1] (tests/test_numba.py checks 2 ulp); float32 entries are computed in float64 and rounded once.
"""
import llvmlite.ir
import numba
import numpy as np


@numba.extending.intrinsic
def _float_bits(typingctx, value):
    """The bits of a float64, as an int64 (a reinterpretation, not a conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(numba.core.types.int64))
    return numba.core.types.int64(numba.core.types.float64), codegen


@numba.extending.intrinsic
def _bits_float(typingctx, bits):
    """The float64 whose bits an int64 holds."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(numba.core.types.float64))
    return numba.core.types.float64(numba.core.types.int64), codegen


@numba.extending.intrinsic
def _mul_add(typingctx, a, b, c):
    """a*b + c as LLVM's fmuladd: one fused multiply-add, rounded once, where the CPU has one
    (numba compiles for the host), else a product and a sum. Not fastmath: nothing is
    reordered and no NaN or infinity is assumed away; a fused step is at least as accurate."""
    f64 = numba.core.types.float64

    def codegen(context, builder, signature, args):
        double = context.get_value_type(f64)
        fnty = llvmlite.ir.FunctionType(double, [double, double, double])
        return builder.call(builder.module.declare_intrinsic("llvm.fmuladd", [double], fnty), args)
    return f64(f64, f64, f64), codegen


@numba.njit(inline="always", cache=True)
def _power_of_two(k):
    """2^k for an integer-valued float64 k in [-1022, 1023]: its biased exponent, shifted into
    place (k + 1.5·2⁵² holds k in its low bits)."""
    return _bits_float((_float_bits(k + 6755399441055744.0)
                        - _float_bits(6755399441055744.0) + 1023) << 52)


@numba.njit(inline="always", cache=True)
def _exp(x):
    """exp(x) for a float, vectorisable (see the module's docstring)."""
    clamped = min(max(x, -746.0), 710.0)
    k = (clamped * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    r = (clamped - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    p = 1.0 / 6227020800.0
    p = _mul_add(p, r, 1.0 / 479001600.0)
    p = _mul_add(p, r, 1.0 / 39916800.0)
    p = _mul_add(p, r, 1.0 / 3628800.0)
    p = _mul_add(p, r, 1.0 / 362880.0)
    p = _mul_add(p, r, 1.0 / 40320.0)
    p = _mul_add(p, r, 1.0 / 5040.0)
    p = _mul_add(p, r, 1.0 / 720.0)
    p = _mul_add(p, r, 1.0 / 120.0)
    p = _mul_add(p, r, 1.0 / 24.0)
    p = _mul_add(p, r, 1.0 / 6.0)
    p = _mul_add(p, r, 0.5)
    p = _mul_add(p, r, 1.0)
    p = _mul_add(p, r, 1.0)
    half = (k * 0.5 + 6755399441055744.0) - 6755399441055744.0
    result = p * _power_of_two(half) * _power_of_two(k - half)
    return x if np.isnan(x) else result


@numba.njit(inline="always", cache=True)
def _row_maximum(row, scale):
    """The largest of scale*row[j], in four interleaved running maxima compared at the end (one
    running maximum waits on each comparison: a softmax's maximum pass over 1024×1024 took
    1.76 ms on one core, 0.48 ms in four). Where a NaN ends up in the maximum depends on its
    place; a softmax's row is NaN wherever it is (exp(NaN - m) enters the row's sum)."""
    n = row.shape[0]
    a = b = c = d = scale * row[0]
    j = 0
    while j + 4 <= n:
        x0, x1, x2, x3 = scale * row[j], scale * row[j + 1], scale * row[j + 2], scale * row[j + 3]
        a = max(a, x0)
        b = max(b, x1)
        c = max(c, x2)
        d = max(d, x3)
        j += 4
    while j < n:
        x = scale * row[j]
        a = max(a, x)
        j += 1
    a = max(a, b)
    c = max(c, d)
    return max(a, c)


@numba.njit(inline="always", cache=True)
def _row_total(row):
    """The sum of a row's entries in four interleaved partial sums, added pairwise at the end:
    one running sum waits on each addition's latency (four cycles a term), four do not."""
    n = row.shape[0]
    a = b = c = d = 0.0
    j = 0
    while j + 4 <= n:
        a += row[j]
        b += row[j + 1]
        c += row[j + 2]
        d += row[j + 3]
        j += 4
    while j < n:
        a += row[j]
        j += 1
    return (a + b) + (c + d)


def _scratch(key, shape, dtype):
    """A new array of `shape` and `dtype` for key None; for the key of a call site whose array is
    an intermediate (fused.py), this thread's buffer for that site, made on its first use and
    again when the shape or dtype changes. An array under PARALLEL_SIZE entries is always new:
    the allocator has such blocks at hand, where a fresh large one costs a page fault per page.
    The buffers are per thread (two threads may call the function at once) and live as long as
    the thread; the next call overwrites them, so no result is one of them (_owned)."""
    size = 1
    for n in shape:
        size *= n
    if key is None or size < PARALLEL_SIZE:  # noqa: F821 (a global of the generated module)
        return np.empty(shape, dtype=dtype)
    buffers = _SCRATCH.__dict__  # noqa: F821 (a global of the generated module: NUMBA.imports)
    buffer = buffers.get(key)
    if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
        buffer = buffers[key] = np.empty(shape, dtype=dtype)
    return buffer


def _scratch_product(a, b, key):
    """a @ b for matrices, into this thread's scratch buffer for the call site `key`."""
    out = _scratch(key, (a.shape[0], b.shape[1]), np.result_type(a, b))
    return np.matmul(a, b, out=out)


def _owned(result):
    """A result as the caller may keep it: a copy if it shares memory with a scratch buffer (a
    view of an intermediate returned as it is, which the next call would overwrite)."""
    if isinstance(result, np.ndarray):
        for buffer in _SCRATCH.__dict__.values():  # noqa: F821 (as in _scratch)
            if np.may_share_memory(result, buffer):
                return result.copy()
    return result


def _transposed_matvec(m, v):
    """m.T @ v. For a tall C-ordered m (8 times as many rows as columns or more, 2²⁰ entries or
    more) 16 blocks of rows are summed in parallel (each block's partial sums in a row of
    `parts`), then the 16 partial vectors: a fixed split, so the result does not depend on the
    number of threads. OpenBLAS's gemv read a 100000×100 m at 12 GB/s on a 2-core Xeon
    (7.5 ms), the loop at 17 GB/s (4.6 ms)."""
    if m.ndim != 2 or v.ndim != 1 or not m.flags.c_contiguous or \
            m.shape[0] < 8 * m.shape[1] or m.size < 1 << 20:
        return m.T @ v
    parts = np.empty((16, m.shape[1]), dtype=np.result_type(m, v))
    return _transposed_matvec_parts(m, v, parts).sum(axis=0)


@numba.njit(parallel=True, cache=True)
def _transposed_matvec_parts(m, v, parts):
    """Row b of parts: the sum of v[i] * m[i, :] over block b of m's rows."""
    rows, cols = m.shape
    step = (rows + parts.shape[0] - 1) // parts.shape[0]
    for b in numba.prange(parts.shape[0]):
        total = parts[b]
        for j in range(cols):
            total[j] = 0.0
        for i in range(b * step, min(rows, (b + 1) * step)):
            weight = v[i]
            for j in range(cols):
                total[j] += weight * m[i, j]
    return parts
