// tests/test_fused_gemm.py builds and runs this: fused_gemm.h's products against plain loops,
// for every tile remainder (rows 1..13, columns not a multiple of the panel), both orientations
// of the packed weights, strided operands, C stored and added to, and depths past one chunk.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "fused_gemm.h"

static std::mt19937 rng(7);
static std::vector<float> random(size_t n) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}
static int failures = 0;
static void compare(const char* what, const std::vector<float>& got,
                    const std::vector<double>& want, long depth) {
  for (size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - want[i]) > 1e-5 * (depth + 1)) {
      std::printf("%s: element %zu is %g, not %g\n", what, i, got[i], want[i]);
      ++failures;
      return;
    }
}

int main() {
  for (long rows : {1, 2, 5, 6, 7, 13, 64})
    for (long cols : {1, 7, fused_gemm::NR, fused_gemm::NR + 3, 40, 128})
      for (long depth : {1, 3, 157, 300})
        for (bool transposed : {false, true})
          for (bool add : {false, true}) {
            // A (rows x depth) with a row stride past its width; W (depth x cols) either way
            const long lda = depth + 3, ldc = cols + 5;
            auto a = random(rows * lda), w = random(depth * cols), c = random(rows * ldc);
            const long w_p = transposed ? 1 : cols, w_j = transposed ? depth : 1;
            std::vector<double> want(c.begin(), c.end());
            for (long i = 0; i < rows; ++i)
              for (long j = 0; j < cols; ++j) {
                double s = add ? c[i * ldc + j] : 0;
                for (long p = 0; p < depth; ++p) s += double(a[i * lda + p]) * w[p * w_p + j * w_j];
                want[i * ldc + j] = s;
              }
            fused_gemm::Packed(w.data(), depth, cols, w_p, w_j)
                .multiply(rows, a.data(), lda, 1, c.data(), ldc, add);
            char what[120];
            std::snprintf(what, sizeof what, "Packed %ldx%ldx%ld %s %s", rows, cols, depth,
                          transposed ? "W^T" : "W", add ? "add" : "store");
            compare(what, c, want, depth);
          }
  // the weights' gradient: C (rows x cols) += A^T-like strided A (a_row 1) times rows of B
  for (long rows : {1, 6, 13, 157})
    for (long cols : {5, fused_gemm::NR, 40, 512})
      for (long depth : {1, 255, 256, 600}) {
        const long ldb = cols + 2;
        auto a = random(depth * rows), b = random(depth * ldb), c = random(rows * cols);
        std::vector<double> want(c.begin(), c.end());
        for (long i = 0; i < rows; ++i)
          for (long j = 0; j < cols; ++j)
            for (long p = 0; p < depth; ++p) want[i * cols + j] += double(a[p * rows + i]) * b[p * ldb + j];
        fused_gemm::multiply_add(rows, cols, depth, a.data(), 1, rows, b.data(), ldb, c.data(),
                                 cols);
        char what[80];
        std::snprintf(what, sizeof what, "multiply_add %ldx%ldx%ld", rows, cols, depth);
        compare(what, c, want, depth);
      }
  std::printf("%d lanes, %d failures\n", fused_gemm::kLanes, failures);
  return failures ? 1 : 0;
}
