// The fused LSTM's matrix products (fused_lstm.cc): a register-tiled GEMM kernel made for its
// shapes, C (rows x cols) [+]= A (rows x depth) B (depth x cols), all row-major with strides.
//
// Why not Eigen's GEMM, which TensorFlow's own matmuls use: on these shapes (64 batch rows,
// depth 128-512, 128-512 columns) it ran at 62-64 GFLOP/s on one core of this project's AMD
// EPYC (AVX2), where this kernel runs at 84-98, against 102 for a loop of nothing but FMAs
// (docs/speed.md). The kernel holds a tile of MR rows x NR columns of C in registers (12 vector
// accumulators of 8 floats with AVX2) and, for each step of the depth, loads NR floats of B and
// broadcasts MR floats of A: 2 loads and MR broadcasts for 2 MR fused multiply-adds.
// B is either weights, packed once per op run into NR-column panels (depth x NR contiguous,
// zero-padded), or rows read in place (the gradient of the weights).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

namespace fused_gemm {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;   // SSE, NEON: the compiler's generic vectors
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
constexpr int NR = 2 * kLanes;   // columns of a tile: two vectors
constexpr int MR = 6;            // rows of a tile: 2 MR accumulators + 2 + 1 fit 16 registers

inline Vec load(const float* p) { Vec v; std::memcpy(&v, p, sizeof v); return v; }
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
inline Vec broadcast(float x) {
#if defined(__AVX512F__)
  return (Vec)_mm512_set1_ps(x);
#elif defined(__AVX__)
  return (Vec)_mm256_set1_ps(x);   // (Vec{} + x would cost an add: -0.0 + 0.0 is not -0.0)
#else
  return Vec{x, x, x, x};
#endif
}

// One tile, M (<= MR) rows x `cols` (<= NR) columns: A(i, p) = a[i a_row + p a_k],
// B(p, j) = b[p b_k + j] for j < NR (B is read NR wide even where cols < NR).
template <int M>
inline void tile(int64_t depth, const float* a, int64_t a_row, int64_t a_k, const float* b,
                 int64_t b_k, float* c, int64_t ldc, int cols, bool add) {
  Vec acc[M][2];
  for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = Vec{};
#pragma GCC unroll 4
  for (int64_t p = 0; p < depth; ++p, a += a_k, b += b_k) {
    const Vec b0 = load(b), b1 = load(b + kLanes);
    for (int i = 0; i < M; ++i) {
      const Vec ai = broadcast(a[i * a_row]);
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
    if (cols == NR) {
      store(ci, add ? load(ci) + acc[i][0] : acc[i][0]);
      store(ci + kLanes, add ? load(ci + kLanes) + acc[i][1] : acc[i][1]);
    } else {   // the last columns: through a buffer
      float t[NR];
      store(t, acc[i][0]);
      store(t + kLanes, acc[i][1]);
      for (int j = 0; j < cols; ++j) ci[j] = add ? ci[j] + t[j] : t[j];
    }
  }
}

// tile<m> for a run-time m in 1..MR
template <int M = MR>
inline void tile_of(int m, int64_t depth, const float* a, int64_t a_row, int64_t a_k,
                    const float* b, int64_t b_k, float* c, int64_t ldc, int cols, bool add) {
  if constexpr (M > 0) {
    if (m == M) return tile<M>(depth, a, a_row, a_k, b, b_k, c, ldc, cols, add);
    tile_of<M - 1>(m, depth, a, a_row, a_k, b, b_k, c, ldc, cols, add);
  }
}

// All tiles of C (rows x cols) for the depth range of B given: rows in steps of MR.
inline void tiles(int64_t rows, int cols, int64_t depth, const float* a, int64_t a_row,
                  int64_t a_k, const float* b, int64_t b_k, float* c, int64_t ldc, bool add) {
  for (int64_t i = 0; i < rows; i += MR)
    tile_of(static_cast<int>(std::min<int64_t>(MR, rows - i)), depth, a + i * a_row, a_row, a_k,
            b, b_k, c + i * ldc, ldc, cols, add);
}

// Weights W (depth x cols; W(p, j) at w[p w_p + j w_j], so either orientation) packed once into
// NR-column panels, for many products A W.
class Packed {
 public:
  Packed(const float* w, int64_t depth, int64_t cols, int64_t w_p, int64_t w_j)
      : depth_(depth), cols_(cols), data_((cols + NR - 1) / NR * depth * NR) {
    for (int64_t q = 0; q * NR < cols; ++q)
      for (int64_t p = 0; p < depth; ++p)
        for (int64_t j = 0; j < NR; ++j) {
          const int64_t col = q * NR + j;
          data_[(q * depth + p) * NR + j] = col < cols ? w[p * w_p + col * w_j] : 0.0f;
        }
  }
  // C (rows x cols) = A W (add: C += A W); A(i, p) at a[i a_row + p a_k]
  void multiply(int64_t rows, const float* a, int64_t a_row, int64_t a_k, float* c, int64_t ldc,
                bool add) const {
    for (int64_t q = 0; q * NR < cols_; ++q)   // a panel (depth x NR floats) stays in L1
      tiles(rows, static_cast<int>(std::min<int64_t>(NR, cols_ - q * NR)), depth_, a, a_row,
            a_k, data_.data() + q * depth_ * NR, NR, c + q * NR, ldc, add);
  }

 private:
  int64_t depth_, cols_;
  std::vector<float> data_;
};

// The depth multiply_add takes in one pass
constexpr int64_t kDepthChunk = 256;

// C (rows x cols) += A B, B's rows anywhere (B(p, j) at b[p b_k + j]), over a long depth: in
// chunks of kDepthChunk, each chunk of an NR-column panel of B copied into a zero-padded
// contiguous buffer first (8 KB..16 KB, in L1 for all the tiles that use it: 88 GFLOP/s against
// 73 for reading B's rows, 2 KB apart, in place, side by side on the weights' gradient's shape).
inline void multiply_add(int64_t rows, int64_t cols, int64_t depth, const float* a,
                         int64_t a_row, int64_t a_k, const float* b, int64_t b_k, float* c,
                         int64_t ldc) {
  constexpr int64_t kc = kDepthChunk;
  std::vector<float> panel(std::min(kc, depth) * NR);
  for (int64_t p0 = 0; p0 < depth; p0 += kc) {
    const int64_t d = std::min(kc, depth - p0);
    for (int64_t j = 0; j < cols; j += NR) {
      const int n = static_cast<int>(std::min<int64_t>(NR, cols - j));
      for (int64_t p = 0; p < d; ++p) {
        float* to = panel.data() + p * NR;
        std::copy_n(b + (p0 + p) * b_k + j, n, to);
        std::fill(to + n, to + NR, 0.0f);
      }
      tiles(rows, n, d, a + p0 * a_k, a_row, a_k, panel.data(), NR, c + j, ldc, true);
    }
  }
}

}  // namespace fused_gemm
