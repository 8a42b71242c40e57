// The fused LSTM (`lstm_impl = "fused"`): the tutorial's BasicLSTMCell unrolled over all
// timesteps in one TensorFlow op forward (FusedLstm) and one backward (FusedLstmGrad, its
// gradient). Built and loaded by fused_lstm.py; the tests check it against the tutorial's cell
// and an independent numpy LSTM.
//
// Same math as BasicLSTMCell + static_rnn: gates = [x_t, h_{t-1}] kernel + bias, split
// (i, j, f, o); c_t = c_{t-1} sigmoid(f + forget_bias) + sigmoid(i) tanh(j);
// h_t = tanh(c_t) sigmoid(o); h_0 = c_0 = 0.
//
// Why it is fast: batch rows are independent, so each of `shards` slices of the batch runs its
// whole 28-step chain in one thread of TensorFlow's intra-op pool, with no synchronisation
// between timesteps. The matrix products are fused_gemm.h's register-tiled kernel (1.4-1.5x
// Eigen's GEMM on these shapes), on weights packed for it once per op run. Forward, each
// timestep is one product, [x_t, h_{t-1}, 1] [kernel; bias], into a buffer of one timestep's
// gates that stays in cache; the element-wise gate maths runs row by row on it and writes the
// activations that the gradient needs past the cache (store_past_cache). Backward, the
// weights' gradient is summed a group of timesteps (about 256 rows) at a time, while the
// group's d gates are in cache. The shards are fixed by the batch, not the thread count: the
// sums (the weight gradients) are the same on any machine.
// Measured inside the op (docs/speed.md), per shard and op pair, before the weights' gradient
// went by groups: forward 3.7 ms (its products about 3.1); backward, the d h products 2.3, the
// weights' gradient 3.4-3.5, the gate maths 0.5-0.8, the [x_t, h_{t-1}, 1] rows 0.1; the
// packing and the shards' sum 0.17 on one core. By groups, the op pair took 0.85-0.87x the
// time (alternating processes).
//
// Layout: x (B, T, I), h and d h (B, T, H) batch-major, as the graph has them. The cell states
// and gates (outputs for the gradient only) and the gradient's group buffers are in the op's
// order: shard by shard and, within a shard, timestep by timestep, so that a timestep of a
// shard (n rows) is one contiguous block: row (r, t) of the shard's rows r0 .. r0 + n - 1 is
// r0 T + t n + r. (Batch-major, the gradient's gate maths read rows 57 KB apart: 0.75-0.80 ms
// a shard this way against 0.9-1.7, varying from process to process, side by side.)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__SSE__)
#include <immintrin.h>   // the stores past the cache
#endif

#include "Eigen/Core"
#include "fused_gemm.h"
#include "absl/synchronization/blocking_counter.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Rows = Eigen::Map<Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;  // rows of a buffer

// The element-wise maths of a cell, written once for a packet of floats (Eigen's, the widest
// vectors this CPU has) and for one float (a row's last H % kPacket): GCC's vector types take
// the same +, - and * as floats.
namespace ei = Eigen::internal;
using Packet = ei::packet_traits<float>::type;
constexpr int64_t kPacket = ei::unpacket_traits<Packet>::size;
template <typename V> V load(const float* p);
template <> Packet load<Packet>(const float* p) { return ei::ploadu<Packet>(p); }
template <> float load<float>(const float* p) { return *p; }
void store(float* p, Packet v) { ei::pstoreu(p, v); }
void store(float* p, float v) { *p = v; }
// A store that skips the cache (non-temporal), for the forward's activations, which only the
// gradient reads, after the whole forward: 3.7 MB a shard, that would otherwise first be read
// from memory line by line and push the weights out of the core's cache. The op pair took
// 0.92-0.95x the time with it (16.91 ms against 18.19 in one process, 17.38 against 18.30 in
// alternating processes, a loaded hour of 2026-12-03); the numbers stored are the same.
void store_past_cache(float* p, Packet v) {
  if (reinterpret_cast<std::uintptr_t>(p) % sizeof(Packet) == 0) {
#if defined(EIGEN_VECTORIZE_AVX512)
    return _mm512_stream_ps(p, v);
#elif defined(EIGEN_VECTORIZE_AVX)
    return _mm256_stream_ps(p, v);
#elif defined(EIGEN_VECTORIZE_SSE)
    return _mm_stream_ps(p, v);
#endif
  }
  ei::pstoreu(p, v);   // not aligned to a packet, or no such stores on this CPU
}
void store_past_cache(float* p, float v) { *p = v; }
// Makes the stores past the cache visible to other threads before the op ends
void stores_past_cache_done() {
#if defined(EIGEN_VECTORIZE_SSE)
  _mm_sfence();
#endif
}
Packet tanh_of(Packet x) { return ei::ptanh(x); }   // Eigen's vectorised tanh
float tanh_of(float x) { return std::tanh(x); }
// sigmoid(x) = (1 + tanh(x / 2)) / 2: 2.5x faster here than Eigen's logistic() and as exact
// (within 1e-7 of the float64 value on [-3, 3])
template <typename V> V sigmoid(V x) { return tanh_of(x * 0.5f) * 0.5f + 0.5f; }

// cell(V{}, k) for the elements k of a row of H: kPacket at a time, then one at a time
template <typename Cell>
void each_element(int64_t H, Cell cell) {
  int64_t k = 0;
  for (; k + kPacket <= H; k += kPacket) cell(Packet{}, k);
  for (; k < H; ++k) cell(0.0f, k);
}

// [x_t, h_{t-1}, 1] of batch row r into `to` (I + H + 1 floats); xs (n, T, I) and hs (n, T, H)
// are the shard's rows, batch-major; h_0 = 0
void input_row(float* to, const float* xs, const float* hs, int64_t r, int64_t t, int64_t T,
               int64_t I, int64_t H) {
  std::copy_n(xs + (r * T + t) * I, I, to);
  if (t > 0) std::copy_n(hs + (r * T + t - 1) * H, H, to + I);
  else std::fill_n(to + I, H, 0.0f);
  to[I + H] = 1.0f;
}

// `rows` rows of `cols` floats from `data`, in rows of width `width`
Rows rows_of(float* data, int64_t rows, int64_t cols, int64_t width) {
  return Rows(data, rows, cols, Eigen::OuterStride<>(width));
}

// Run shard(s, first row, row count) for the `shards` slices of `batch` rows, in parallel on
// the intra-op pool.
template <typename Fn>
void for_each_shard(OpKernelContext* ctx, int64_t batch, int64_t shards, Fn shard) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  auto run = [&](int64_t s) {
    int64_t first = batch * s / shards, last = batch * (s + 1) / shards;
    if (last > first) shard(s, first, last - first);
  };
  absl::BlockingCounter done(shards - 1);   // shard 0 runs here, the others on the pool
  for (int64_t s = 1; s < shards; ++s) pool->Schedule([&, s] { run(s); done.DecrementCount(); });
  run(0);
  done.Wait();
}

int64_t shard_count(int64_t batch, int64_t shards) {
  return std::max<int64_t>(1, std::min(batch, shards));
}

}  // namespace

REGISTER_OP("FusedLstm")
    .Input("x: float")       // (B, T, I)
    .Input("kernel: float")  // (I + H, 4H): basic_lstm_cell/kernel, gates i, j, f, o
    .Input("bias: float")    // (4H): basic_lstm_cell/bias
    .Attr("forget_bias: float = 1.0")
    .Attr("shards: int = 2")
    .Output("h: float")      // (B, T, H): every timestep's output
    .Output("cs: float")     // (B T, H): cell states, in the op's order, for the gradient
    .Output("gates: float")  // (B T, 4H): sigmoid(i), tanh(j), sigmoid(f + fb), sigmoid(o)
    .Output("last: float")   // (B, H): the last timestep's h, what the tutorial's model reads
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &kernel));
      DimensionHandle four_h = c->Dim(kernel, 1), h, rows;
      TF_RETURN_IF_ERROR(c->Divide(four_h, 4, true, &h));
      TF_RETURN_IF_ERROR(c->Multiply(c->Dim(x, 0), c->Dim(x, 1), &rows));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), h}));
      c->set_output(1, c->MakeShape({rows, h}));
      c->set_output(2, c->MakeShape({rows, four_h}));
      c->set_output(3, c->MakeShape({c->Dim(x, 0), h}));
      return absl::OkStatus();
    });

REGISTER_OP("FusedLstmGrad")
    .Input("x: float")       // (B, T, I)
    .Input("kernel: float")  // (I + H, 4H)
    .Input("h: float")       // (B, T, H)   FusedLstm's outputs
    .Input("cs: float")      // (B T, H), in the op's order
    .Input("gates: float")   // (B T, 4H), in the op's order
    .Input("dh: float")      // (B, T, H): d loss / d h, or empty: none but through last
    .Input("dlast: float")   // (B, H): d loss / d last
    .Attr("shards: int = 2")
    .Output("dkernel: float")  // (I + H, 4H)
    .Output("dbias: float")    // (4H)
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      c->set_output(1, c->Vector(c->Dim(c->input(1), 1)));
      return absl::OkStatus();
    });

class FusedLstmOp : public OpKernel {
 public:
  explicit FusedLstmOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("forget_bias", &forget_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("shards", &shards_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &kernel = ctx->input(1), &bias = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() == 3, InvalidArgument("x must be (batch, timesteps, input)"));
    const int64_t B = x.dim_size(0), T = x.dim_size(1), I = x.dim_size(2);
    const int64_t H = kernel.dim_size(1) / 4;
    OP_REQUIRES(ctx, kernel.dims() == 2 && kernel.dim_size(0) == I + H && 4 * H > 0 &&
                     kernel.dim_size(1) == 4 * H && bias.NumElements() == 4 * H,
                InvalidArgument("kernel must be (input + H, 4H) and bias (4H)"));
    Tensor *h_out, *cs_out, *gates_out, *last_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &h_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B * T, H}), &cs_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B * T, 4 * H}), &gates_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({B, H}), &last_out));
    if (B == 0 || T == 0) return;

    const float* X = x.flat<float>().data();
    const float* W = kernel.flat<float>().data();
    const int64_t K = I + H + 1;   // columns of [x_t, h_{t-1}, 1]
    // [kernel; bias], forget_bias added to the f gates' bias as BasicLSTMCell adds it: (K, 4H)
    std::vector<float> wb(K * 4 * H);
    std::copy_n(W, (I + H) * 4 * H, wb.begin());
    float* b = wb.data() + (I + H) * 4 * H;
    std::copy_n(bias.flat<float>().data(), 4 * H, b);
    for (int64_t k = 2 * H; k < 3 * H; ++k) b[k] += forget_bias_;
    const fused_gemm::Packed w(wb.data(), K, 4 * H, 4 * H, 1);
    float *Hs = h_out->flat<float>().data(), *Cs = cs_out->flat<float>().data(),
          *G = gates_out->flat<float>().data(), *Last = last_out->flat<float>().data();

    for_each_shard(ctx, B, shard_count(B, shards_), [&](int64_t, int64_t r0, int64_t n) {
      float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H;
      const float* xs = X + r0 * T * I;
      std::vector<float> xh(n * K);   // [x_t, h_{t-1}, 1] of the shard's n rows: (n, K)
      std::vector<float> pre(n * 4 * H);   // timestep t's gates before the maths: (n, 4H)
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r = 0; r < n; ++r) input_row(&xh[r * K], xs, hs, r, t, T, I, H);
        // timestep t's gates: (n, K) (K, 4H), into the same buffer each timestep (in cache)
        w.multiply(n, xh.data(), K, 1, pre.data(), 4 * H, false);
        for (int64_t r = 0; r < n; ++r) {  // activations to the shard's rows t n .. t n + n - 1
          const float* pr = pre.data() + r * 4 * H;
          float* gr = g + (t * n + r) * 4 * H;
          float *c = cs + (t * n + r) * H, *h = hs + (r * T + t) * H;
          const float* c_prev = t > 0 ? c - n * H : nullptr;   // c_0 = 0
          each_element(H, [&](auto v, int64_t k) {
            using V = decltype(v);
            const V i = sigmoid(load<V>(pr + k)), j = tanh_of(load<V>(pr + H + k)),
                    f = sigmoid(load<V>(pr + 2 * H + k)), o = sigmoid(load<V>(pr + 3 * H + k));
            V ct = i * j;
            if (c_prev) ct += load<V>(c_prev + k) * f;
            store_past_cache(gr + k, i);   // the activations, for the gradient
            store_past_cache(gr + H + k, j);
            store_past_cache(gr + 2 * H + k, f);
            store_past_cache(gr + 3 * H + k, o);
            store(c + k, ct);
            store(h + k, tanh_of(ct) * o);
          });
        }
      }
      for (int64_t r = 0; r < n; ++r)
        std::copy_n(hs + (r * T + T - 1) * H, H, Last + (r0 + r) * H);
      stores_past_cache_done();
    });
  }

 private:
  float forget_bias_;
  int shards_;
};

class FusedLstmGradOp : public OpKernel {
 public:
  explicit FusedLstmGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("shards", &shards_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &kernel = ctx->input(1), &h = ctx->input(2),
                 &cs = ctx->input(3), &gates = ctx->input(4), &dh = ctx->input(5),
                 &dlast = ctx->input(6);
    const int64_t B = x.dim_size(0), T = x.dim_size(1), I = x.dim_size(2);
    const int64_t H = kernel.dim_size(1) / 4;
    const bool every_dh = dh.NumElements() > 0;   // else: d loss / d h through last only
    OP_REQUIRES(ctx, h.shape() == TensorShape({B, T, H}) &&
                     (!every_dh || dh.shape() == TensorShape({B, T, H})),
                InvalidArgument("h and dh must be (batch, timesteps, H)"));
    OP_REQUIRES(ctx, dlast.shape() == TensorShape({B, H}),
                InvalidArgument("dlast must be (batch, H)"));
    OP_REQUIRES(ctx, cs.shape() == TensorShape({B * T, H}) &&
                     gates.shape() == TensorShape({B * T, 4 * H}),
                InvalidArgument("cs and gates must be FusedLstm's: (batch timesteps, H or 4H)"));
    Tensor *dkernel, *dbias;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, kernel.shape(), &dkernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({4 * H}), &dbias));
    const int64_t S = shard_count(B, shards_), K = I + H + 1;  // rows of [x, h_prev, 1]
    // The kernel's and bias's gradient, [x, h, 1]^T d gates, is summed a group of timesteps
    // at a time, as soon as the backward has their d gates: about kDepthChunk (256) rows, the
    // depth that fused_gemm::multiply_add takes in one pass. So a shard keeps only its group's
    // d gates and rows (0.7 MB for 64 rows), not all T timesteps' (4.8 MB, written, then read
    // back from memory): the op pair 0.85-0.87x the time (11.56 ms against 13.55, and 14.79
    // against 17.04 on a slower hour; medians of five alternating processes each, 2026-12-03).
    const int64_t n_max = (B + S - 1) / S;
    const int64_t steps_per_group =
        std::clamp<int64_t>(fused_gemm::kDepthChunk / std::max<int64_t>(n_max, 1), 1,
                            std::max<int64_t>(T, 1));
    // per shard: its group's pre-activation gradients (steps n, 4H) and [x_t, h_{t-1}, 1] rows
    // (steps n, K), row (t - t0) n + r; its (K, 4H) share of the kernel and bias gradients,
    // summed below in shard order
    Tensor group, partial;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(
                            tensorflow::DT_FLOAT,
                            TensorShape({S, steps_per_group * n_max, 4 * H + K}), &group));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({S, K, 4 * H}),
                                           &partial));
    auto dW = rows_of(dkernel->flat<float>().data(), I + H, 4 * H, 4 * H);
    auto db = rows_of(dbias->flat<float>().data(), 1, 4 * H, 4 * H);
    if (B == 0 || T == 0) {
      dW.setZero();
      db.setZero();
      return;
    }
    const float *X = x.flat<float>().data(), *W = kernel.flat<float>().data(),
                *Hs = h.flat<float>().data(), *Cs = cs.flat<float>().data(),
                *G = gates.flat<float>().data(), *dH = dh.flat<float>().data(),
                *dL = dlast.flat<float>().data();
    float *Group = group.flat<float>().data(), *P = partial.flat<float>().data();

    // d h_{t-1} (n, H) = d gates_t (n, 4H) Wh^T (4H, H): Wh^T(c, k) is Wh(k, c), at W[(I + k) 4H + c]
    const fused_gemm::Packed wh_t(W + I * 4 * H, 4 * H, H, 1, 4 * H);
    for_each_shard(ctx, B, S, [&](int64_t s, int64_t r0, int64_t n) {
      const float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H,
                  *dhs = dH + r0 * T * H, *xs = X + r0 * T * I;   // g, cs: row t n + r;
      float* dg = Group + s * steps_per_group * n_max * (4 * H + K);   // hs, dhs: r T + t
      float* xh = dg + steps_per_group * n * 4 * H;
      float* p = P + s * K * 4 * H;
      std::fill_n(p, K * 4 * H, 0.0f);
      // d h_t and d c_t from timestep t + 1; at T - 1, d h_t is d last
      Matrix dh_next = Eigen::Map<const Matrix>(dL + r0 * H, n, H), dc = Matrix::Zero(n, H);
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t t0 = t / steps_per_group * steps_per_group;   // t's group's first
        float* dg_t = dg + (t - t0) * n * 4 * H;
        if (every_dh)   // d h_t from above too
          for (int64_t r = 0; r < n; ++r)
            for (int64_t k = 0; k < H; ++k) dh_next(r, k) += dhs[(r * T + t) * H + k];
        for (int64_t r = 0; r < n; ++r) {  // as LSTMBlockCellGrad, one row at a time
          const int64_t at = t * n + r;
          const float *gr = g + at * 4 * H, *c = cs + at * H;
          const float* c_prev = t > 0 ? c - n * H : nullptr;
          float *dgr = dg_t + r * 4 * H, *dc_r = dc.data() + r * H,
                *dh_r = dh_next.data() + r * H;
          each_element(H, [&](auto v, int64_t k) {
            using V = decltype(v);
            const V i = load<V>(gr + k), j = load<V>(gr + H + k), f = load<V>(gr + 2 * H + k),
                    o = load<V>(gr + 3 * H + k);
            const V dh = load<V>(dh_r + k);
            const V co = tanh_of(load<V>(c + k));
            const V dct = load<V>(dc_r + k) + dh * o * (1.0f - co * co);   // d c_t
            store(dgr + k, dct * j * i * (1.0f - i));   // d pre-activations, i j f o
            store(dgr + H + k, dct * i * (1.0f - j * j));
            store(dgr + 2 * H + k, c_prev ? dct * load<V>(c_prev + k) * f * (1.0f - f) : V{});
            store(dgr + 3 * H + k, dh * co * o * (1.0f - o));
            store(dc_r + k, dct * f);   // d c_{t-1}
          });
        }
        if (t > 0)  // d h_{t-1} = d gates_t Wh^T: (n, 4H) (4H, H)
          wh_t.multiply(n, dg_t, 4 * H, 1, dh_next.data(), H, false);
        if (t == t0) {   // the group is complete: its [x_t, h_{t-1}, 1] rows (built again
          // here, as the forward built them a timestep at a time), then
          // (K, 4H) += [x, h, 1]^T (K, rows) d gates (rows, 4H)
          const int64_t steps = std::min(steps_per_group, T - t0);
          for (int64_t u = 0; u < steps; ++u)
            for (int64_t r = 0; r < n; ++r)
              input_row(xh + (u * n + r) * K, xs, hs, r, t0 + u, T, I, H);
          fused_gemm::multiply_add(K, 4 * H, steps * n, xh, 1, K, dg, 4 * H, p, 4 * H);
        }
      }
    });
    // the shards' shares, summed in shard order: the same sums whatever ran where
    auto total = rows_of(P, K, 4 * H, 4 * H);
    for (int64_t s = 1; s < S; ++s) total += rows_of(P + s * K * 4 * H, K, 4 * H, 4 * H);
    dW = total.topRows(I + H);
    db = total.bottomRows(1);
  }

 private:
  int shards_;
};

REGISTER_KERNEL_BUILDER(Name("FusedLstm").Device(tensorflow::DEVICE_CPU), FusedLstmOp);
REGISTER_KERNEL_BUILDER(Name("FusedLstmGrad").Device(tensorflow::DEVICE_CPU), FusedLstmGradOp);
