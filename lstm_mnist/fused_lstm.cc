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
// between timesteps. The matrix products are Eigen's single-threaded GEMM kernels (gebp, the
// AVX-512 ones with -march=native), and the recurrent weights are packed for them once per op
// run instead of once per timestep. The element-wise gate maths runs row by row on the
// product's output while it is in cache. The shards are fixed by the batch, not the thread
// count: the sums (the weight gradients) are the same on any machine.
// Measured with perf (docs/speed.md): of a process running the op pair, the GEMM kernel takes
// 57% of the samples, the element-wise maths 16%, packing 5%.
//
// Layout: batch-major, as the input: x (B, T, I) and every output (B, T, .), so a shard's rows
// b*T + t are one contiguous block and timestep t of a shard is every T-th row of it.

#include <algorithm>
#include <vector>

#include "Eigen/Core"
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
using ConstRows = Eigen::Map<const Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using Vector = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;
using RowArray = Eigen::Map<Eigen::Array<float, 1, Eigen::Dynamic>>;
using ConstRowArray = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

// `size` contiguous floats at `data`, for element-wise maths
RowArray row(float* data, int64_t size) { return RowArray(data, size); }
ConstRowArray row(const float* data, int64_t size) { return ConstRowArray(data, size); }

// sigmoid(x) = (1 + tanh(x / 2)) / 2: Eigen's vectorised tanh, 2.5x faster here than its
// logistic() and as exact (within 1e-7 of the float64 value on [-3, 3])
template <typename A>
auto sigmoid(const A& x) { return (x * 0.5f).tanh() * 0.5f + 0.5f; }

// `rows` rows of `cols` floats from `data`, one every `every` rows of width `width`.
Rows rows_of(float* data, int64_t rows, int64_t cols, int64_t width, int64_t every = 1) {
  return Rows(data, rows, cols, Eigen::OuterStride<>(width * every));
}
ConstRows rows_of(const float* data, int64_t rows, int64_t cols, int64_t width,
                  int64_t every = 1) {
  return ConstRows(data, rows, cols, Eigen::OuterStride<>(width * every));
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

// One operand of every timestep's product is the same weight matrix: Eigen's GEMM would pack it
// into its kernel's layout anew for each of the 28 products, so pack it once per op run and call
// the kernel (gebp, as Eigen's general_matrix_matrix_product does) on it directly.
// Column-major view, as Eigen's kernel sees it: out^T (rows, cols) += weights (rows, depth)
// state^T (depth, cols), where cols are the shard's batch rows.
// WeightOrder: Eigen::ColMajor, weights(r, k) at w[r + k * stride]; RowMajor, at w[r * stride + k]
template <int WeightOrder>
class PackedWeights {
  using Traits = Eigen::internal::gebp_traits<float, float>;
  using WeightMapper = Eigen::internal::const_blas_data_mapper<float, int64_t, WeightOrder>;
  using StateMapper = Eigen::internal::const_blas_data_mapper<float, int64_t, Eigen::ColMajor>;
  using OutMapper = Eigen::internal::blas_data_mapper<float, int64_t, Eigen::ColMajor>;

 public:
  PackedWeights(const float* w, int64_t stride, int64_t rows, int64_t depth)
      : rows_(rows), depth_(depth), packed_(rows * depth) {
    Eigen::internal::gemm_pack_lhs<float, int64_t, WeightMapper, Traits::mr, Traits::LhsProgress,
                                   typename Traits::LhsPacket4Packing, WeightOrder>
        pack;
    pack(packed_.data(), WeightMapper(w, stride), depth, rows);
  }
  // out[c * out_stride + r] += sum_k weights(r, k) state[c * state_stride + k], c < cols;
  // `scratch` holds the packed state: depth * cols floats
  void multiply(const float* state, int64_t state_stride, int64_t cols, float* out,
                int64_t out_stride, float* scratch) const {
    Eigen::internal::gemm_pack_rhs<float, int64_t, StateMapper, Traits::nr, Eigen::ColMajor> pack;
    pack(scratch, StateMapper(state, state_stride), depth_, cols);
    Eigen::internal::gebp_kernel<float, float, int64_t, OutMapper, Traits::mr, Traits::nr, false,
                                 false>
        gebp;
    gebp(OutMapper(out, out_stride), packed_.data(), scratch, rows_, depth_, cols, 1.0f);
  }

 private:
  int64_t rows_, depth_;
  std::vector<float, Eigen::aligned_allocator<float>> packed_;
};

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
    .Output("cs: float")     // (B, T, H): cell states, for the gradient
    .Output("gates: float")  // (B, T, 4H): sigmoid(i), tanh(j), sigmoid(f + fb), sigmoid(o)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &kernel));
      DimensionHandle four_h = c->Dim(kernel, 1), h;
      TF_RETURN_IF_ERROR(c->Divide(four_h, 4, true, &h));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), h}));
      c->set_output(1, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), h}));
      c->set_output(2, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), four_h}));
      return absl::OkStatus();
    });

REGISTER_OP("FusedLstmGrad")
    .Input("x: float")       // (B, T, I)
    .Input("kernel: float")  // (I + H, 4H)
    .Input("h: float")       // (B, T, H)   FusedLstm's outputs
    .Input("cs: float")      // (B, T, H)
    .Input("gates: float")   // (B, T, 4H)
    .Input("dh: float")      // (B, T, H): d loss / d h
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
    Tensor *h_out, *cs_out, *gates_out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &h_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, T, H}), &cs_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, T, 4 * H}), &gates_out));
    if (B == 0 || T == 0) return;

    const float* X = x.flat<float>().data();
    const float* W = kernel.flat<float>().data();
    auto wx = rows_of(W, I, 4 * H, 4 * H);           // (I, 4H)
    // the bias with forget_bias added to the f gates, as BasicLSTMCell adds it
    Eigen::Array<float, 1, Eigen::Dynamic> b = Vector(bias.flat<float>().data(), 4 * H);
    b.segment(2 * H, H) += forget_bias_;
    float *Hs = h_out->flat<float>().data(), *Cs = cs_out->flat<float>().data(),
          *G = gates_out->flat<float>().data();

    // gates_t^T (4H, n) += Wh^T (4H, H) h_{t-1}^T (H, n); Wh row-major is Wh^T column-major
    const PackedWeights<Eigen::ColMajor> wh_packed(W + I * 4 * H, 4 * H, 4 * H, H);
    for_each_shard(ctx, B, shard_count(B, shards_), [&](int64_t, int64_t r0, int64_t n) {
      float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H;
      std::vector<float, Eigen::aligned_allocator<float>> scratch(H * n);
      // every timestep's input projection at once: (n T, I) (I, 4H) -> (n T, 4H)
      auto all = rows_of(g, n * T, 4 * H, 4 * H);
      all.array().rowwise() = b;
      all.noalias() += rows_of(X + r0 * T * I, n * T, I, I) * wx;
      for (int64_t t = 0; t < T; ++t) {
        // timestep t's rows of the shard: (n, 4H) gates, one every T rows
        if (t > 0) wh_packed.multiply(hs + (t - 1) * H, T * H, n, g + t * 4 * H, T * 4 * H,
                                      scratch.data());
        for (int64_t r = 0; r < n; ++r) {  // the gates of one row, while they are in cache
          float* gr = g + (r * T + t) * 4 * H;
          auto i = row(gr, H), j = row(gr + H, H), f = row(gr + 2 * H, H), o = row(gr + 3 * H, H);
          auto c = row(cs + (r * T + t) * H, H);
          i = sigmoid(i);
          j = j.tanh();
          f = sigmoid(f);
          o = sigmoid(o);
          if (t > 0) {
            c = row(cs + (r * T + t - 1) * H, H) * f + i * j;
          } else {
            c = i * j;
          }
          row(hs + (r * T + t) * H, H) = c.tanh() * o;
        }
      }
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
                 &cs = ctx->input(3), &gates = ctx->input(4), &dh = ctx->input(5);
    const int64_t B = x.dim_size(0), T = x.dim_size(1), I = x.dim_size(2);
    const int64_t H = kernel.dim_size(1) / 4;
    for (const Tensor* t : {&h, &cs, &dh})
      OP_REQUIRES(ctx, t->shape() == TensorShape({B, T, H}),
                  InvalidArgument("h, cs and dh must be (batch, timesteps, H)"));
    OP_REQUIRES(ctx, gates.shape() == TensorShape({B, T, 4 * H}),
                InvalidArgument("gates must be (batch, timesteps, 4H)"));
    Tensor *dkernel, *dbias;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, kernel.shape(), &dkernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({4 * H}), &dbias));
    const int64_t S = shard_count(B, shards_), K = I + H + 1;  // rows of [x, h_prev, 1]
    // per shard: its pre-activation gradients (n T, 4H), its [x_t, h_{t-1}, 1] rows (n T, K),
    // its (K, 4H) share of the kernel and bias gradients, summed below in shard order
    Tensor dgates, xh1, partial;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, T, 4 * H}),
                                           &dgates));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, T, K}), &xh1));
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
                *G = gates.flat<float>().data(), *dH = dh.flat<float>().data();
    float *dG = dgates.flat<float>().data(), *XH = xh1.flat<float>().data(),
          *P = partial.flat<float>().data();

    // d h_{t-1}^T (H, n) = Wh (H, 4H) d gates_t^T (4H, n)
    const PackedWeights<Eigen::RowMajor> wh_packed(W + I * 4 * H, 4 * H, H, 4 * H);
    for_each_shard(ctx, B, S, [&](int64_t s, int64_t r0, int64_t n) {
      std::vector<float, Eigen::aligned_allocator<float>> scratch(4 * H * n);
      const float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H,
                  *dhs = dH + r0 * T * H;
      float* dg = dG + r0 * T * 4 * H;
      Matrix dh_next = Matrix::Zero(n, H), dc = Matrix::Zero(n, H);  // from timestep t + 1
      Eigen::Array<float, 1, Eigen::Dynamic> co(H);                   // tanh(c_t) of a row
      for (int64_t t = T - 1; t >= 0; --t) {
        for (int64_t r = 0; r < n; ++r) {  // as LSTMBlockCellGrad, one row at a time
          const int64_t at = r * T + t;
          const float* gr = g + at * 4 * H;
          auto i = row(gr, H), j = row(gr + H, H), f = row(gr + 2 * H, H), o = row(gr + 3 * H, H);
          float* dgr = dg + at * 4 * H;
          auto dc_r = row(dc.data() + r * H, H), dh_r = row(dh_next.data() + r * H, H);
          dh_r += row(dhs + at * H, H);                     // d h_t: from above and from t + 1
          co = row(cs + at * H, H).tanh();
          dc_r += dh_r * o * (1 - co * co);                 // d c_t
          row(dgr, H) = dc_r * j * i * (1 - i);             // d pre-activations, i j f o
          row(dgr + H, H) = dc_r * i * (1 - j * j);
          if (t > 0) {
            row(dgr + 2 * H, H) = dc_r * row(cs + (at - 1) * H, H) * f * (1 - f);
          } else {
            row(dgr + 2 * H, H).setZero();
          }
          row(dgr + 3 * H, H) = dh_r * co * o * (1 - o);
          dc_r *= f;                                        // d c_{t-1}
        }
        if (t > 0) {  // d h_{t-1} = d gates_t Wh^T: (n, 4H) (4H, H)
          dh_next.setZero();
          wh_packed.multiply(dg + t * 4 * H, T * 4 * H, n, dh_next.data(), H, scratch.data());
        }
      }
      // [x_t, h_{t-1}, 1] for every row: one product gives the kernel's and bias's gradient
      auto xh = rows_of(XH + r0 * T * K, n * T, K, K);
      xh.leftCols(I) = rows_of(X + r0 * T * I, n * T, I, I);
      for (int64_t r = 0; r < n; ++r) {
        xh.block(r * T, I, 1, H).setZero();
        xh.block(r * T + 1, I, T - 1, H) = rows_of(hs + r * T * H, T - 1, H, H);
      }
      xh.rightCols(1).setOnes();
      rows_of(P + s * K * 4 * H, K, 4 * H, 4 * H).noalias() =
          xh.transpose() * rows_of(dg, n * T, 4 * H, 4 * H);
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
