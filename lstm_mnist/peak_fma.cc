// This CPU's peak float rate, for bench.py: a loop of nothing but fused multiply-adds in the
// widest vectors the fused op is built for (-march=native: AVX-512 or AVX2), 12 independent
// chains (enough to hide the FMA's latency on its two units), no loads or stores.
// Built and run by lstm_mnist/benchmarks.py (PeakFma), one call per core at once.
#if defined(__AVX512F__)
#define REG "zmm"
constexpr int kLanes = 16;
#elif defined(__FMA__)
#define REG "ymm"
constexpr int kLanes = 8;
#else
#error "no x86 FMA instructions: no peak-FMA row"
#endif
#include <chrono>

#define FMA(i) "vfmadd231ps %%" REG "12, %%" REG "13, %%" REG #i "\n\t"

extern "C" int fma_lanes() { return kLanes; }

// Seconds taken by `iters` x 12 FMAs of kLanes floats (2 kLanes float operations each).
extern "C" double fma_seconds(long iters) {
  auto start = std::chrono::steady_clock::now();
  asm volatile(
      "vxorps %%xmm12, %%xmm12, %%xmm12\n\tvxorps %%xmm13, %%xmm13, %%xmm13\n\t"
      "1:\n\t" FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10)
      FMA(11) "dec %0\n\tjnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "cc");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
