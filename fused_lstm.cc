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
// between timesteps; each slice's matrix products are single-threaded Eigen GEMMs (the
// gebp kernels TensorFlow's Eigen contraction uses), and the element-wise gate maths runs
// in place on the GEMM's output rows while they are in cache. The shards are fixed by the
// batch, not the thread count: the sums (the weight gradients) are the same on any machine.
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
using Array = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Rows = Eigen::Map<Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;  // rows of a buffer
using ConstRows = Eigen::Map<const Matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using Vector = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

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
    auto wh = rows_of(W + I * 4 * H, H, 4 * H, 4 * H);  // (H, 4H)
    // the bias with forget_bias added to the f gates, as BasicLSTMCell adds it
    Eigen::Array<float, 1, Eigen::Dynamic> b = Vector(bias.flat<float>().data(), 4 * H);
    b.segment(2 * H, H) += forget_bias_;
    float *Hs = h_out->flat<float>().data(), *Cs = cs_out->flat<float>().data(),
          *G = gates_out->flat<float>().data();

    for_each_shard(ctx, B, shard_count(B, shards_), [&](int64_t, int64_t r0, int64_t n) {
      float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H;
      // every timestep's input projection at once: (n T, I) (I, 4H) -> (n T, 4H)
      auto all = rows_of(g, n * T, 4 * H, 4 * H);
      all.noalias() = rows_of(X + r0 * T * I, n * T, I, I) * wx;
      all.array().rowwise() += b;
      for (int64_t t = 0; t < T; ++t) {
        auto gt = rows_of(g + t * 4 * H, n, 4 * H, 4 * H, T);  // (n, 4H), timestep t's rows
        if (t > 0) gt.noalias() += rows_of(hs + (t - 1) * H, n, H, H, T) * wh;
        auto i = gt.leftCols(H).array(), j = gt.middleCols(H, H).array(),
             f = gt.middleCols(2 * H, H).array(), o = gt.rightCols(H).array();
        i = i.logistic();
        j = j.tanh();
        f = f.logistic();
        o = o.logistic();
        auto c = rows_of(cs + t * H, n, H, H, T).array();
        if (t > 0) {
          c = rows_of(cs + (t - 1) * H, n, H, H, T).array() * f + i * j;
        } else {
          c = i * j;
        }
        rows_of(hs + t * H, n, H, H, T).array() = c.tanh() * o;
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
    auto wh = rows_of(W + I * 4 * H, H, 4 * H, 4 * H);  // (H, 4H)
    float *dG = dgates.flat<float>().data(), *XH = xh1.flat<float>().data(),
          *P = partial.flat<float>().data();

    for_each_shard(ctx, B, S, [&](int64_t s, int64_t r0, int64_t n) {
      const float *g = G + r0 * T * 4 * H, *hs = Hs + r0 * T * H, *cs = Cs + r0 * T * H,
                  *dhs = dH + r0 * T * H;
      float* dg = dG + r0 * T * 4 * H;
      Matrix dh_next = Matrix::Zero(n, H), dc = Matrix::Zero(n, H);  // from timestep t + 1
      for (int64_t t = T - 1; t >= 0; --t) {
        auto gt = rows_of(g + t * 4 * H, n, 4 * H, 4 * H, T).array();
        auto i = gt.leftCols(H), j = gt.middleCols(H, H), f = gt.middleCols(2 * H, H),
             o = gt.rightCols(H);
        auto dgt = rows_of(dg + t * 4 * H, n, 4 * H, 4 * H, T);
        Array dh_t = rows_of(dhs + t * H, n, H, H, T).array() + dh_next.array();
        Array co = rows_of(cs + t * H, n, H, H, T).array().tanh();
        // as LSTMBlockCellGrad: the cell state's gradient, then each gate's pre-activation's
        dc.array() += dh_t * o * (1 - co * co);
        dgt.leftCols(H).array() = dc.array() * j * i * (1 - i);
        dgt.middleCols(H, H).array() = dc.array() * i * (1 - j * j);
        if (t > 0) {
          dgt.middleCols(2 * H, H).array() =
              dc.array() * rows_of(cs + (t - 1) * H, n, H, H, T).array() * f * (1 - f);
        } else {
          dgt.middleCols(2 * H, H).setZero();
        }
        dgt.rightCols(H).array() = dh_t * co * o * (1 - o);
        dc.array() *= f;
        if (t > 0) dh_next.noalias() = dgt * wh.transpose();  // (n, 4H) (4H, H)
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
