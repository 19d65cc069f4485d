// The call descriptor of the native ABI: how the JavaScript side (src/backend/native/) tells a
// kernel call the layout of its operands, defined once here.
//
// Every call passes its typed arrays as arguments and everything else in one shared
// Float64Array, META (registered once with init(); zero copy both ways):
//
//   META[0 .. ARG_SLOTS)        the call's scalars (op code, flags, eps, hyperparameters),
//                               at the per-call slots named below;
//   META[VIEW_BASE + i·VIEW_SIZE ..]
//                               the view record of typed-array argument i, for i < MAX_VIEWS:
//       [VIEW_NDIM]             number of dims (≤ MAX_DIMS)
//       [VIEW_OFFSET]           offset of element (0, …, 0) in the array, in elements
//       [VIEW_SHAPE + d]        size of dim d
//       [VIEW_STRIDES + d]      stride of dim d, in elements (0 = broadcast)
//
// A null argument (an absent bias, weight or mask) has no record to read. The addon exports
// this table as `abi` (addon.cc), and src/backend/native/abi.ts, which the TypeScript writer
// uses, refuses to load an addon whose table differs from its own, so a change here is a
// change to both sides or the addon does not load ("rebuild it"). QKV_ABI_VERSION changes with
// any change of meaning that keeps the numbers.
//
// Plain C constants (no N-API, no C++): a WebAssembly build can lay out the same block in its
// linear memory.
#pragma once

// X(C name, JavaScript name, value)
#define QKV_ABI_TABLE(X)                                                                       \
  X(QKV_ABI_VERSION, version, 1)                                                               \
  /* the view record */                                                                        \
  X(MAX_DIMS, maxDims, 16)                                                                     \
  X(VIEW_NDIM, viewNdim, 0)                                                                    \
  X(VIEW_OFFSET, viewOffset, 1)                                                                \
  X(VIEW_SHAPE, viewShape, 2)                                                                  \
  X(VIEW_STRIDES, viewStrides, 18)                                                             \
  X(VIEW_SIZE, viewSize, 34)                                                                   \
  /* the call block */                                                                         \
  X(ARG_SLOTS, argSlots, 8)                                                                    \
  X(VIEW_BASE, viewBase, 8)                                                                    \
  X(MAX_VIEWS, maxViews, 10)                                                                   \
  X(META_LEN, metaLen, 348)                                                                    \
  /* per-call scalar slots */                                                                  \
  X(ARG_OP, argOp, 0)                     /* unary, binary, reduce: the op code */             \
  X(ARG_REDUCED, argReduced, 1)           /* reduce: bit d set = dim d is reduced */           \
  X(ARG_DIM, argDim, 0)                   /* softmax(Backward): the dim */                     \
  X(ARG_LOG, argLog, 1)                   /* softmax(Backward): 1 = log-softmax */             \
  X(ARG_EPS, argEps, 0)                   /* layerNorm */                                      \
  X(ARG_IGNORE_INDEX, argIgnoreIndex, 0)  /* crossEntropy(Backward) */                         \
  X(ARG_SMOOTHING, argSmoothing, 1)       /* crossEntropy(Backward): label smoothing */        \
  X(ARG_CAUSAL, argCausal, 0)             /* attention(Backward): 1 = causal */                \
  X(ARG_SCALE, argScale, 1)               /* attention(Backward) */                            \
  X(ADAM_LR, adamLr, 0)                                                                        \
  X(ADAM_BETA1, adamBeta1, 1)                                                                  \
  X(ADAM_BETA2, adamBeta2, 2)                                                                  \
  X(ADAM_EPS, adamEps, 3)                                                                      \
  X(ADAM_WEIGHT_DECAY, adamWeightDecay, 4)                                                     \
  X(ADAM_STEP, adamStep, 5)                                                                    \
  X(ADAM_DECOUPLED, adamDecoupled, 6)     /* 1 = AdamW's decoupled decay */                   \
  X(ADAM_MAXIMIZE, adamMaximize, 7)

#define QKV_ABI_ENUM(C, JS, V) C = V,
enum QkvAbi { QKV_ABI_TABLE(QKV_ABI_ENUM) };
#undef QKV_ABI_ENUM

#ifdef __cplusplus
static_assert(VIEW_STRIDES == VIEW_SHAPE + MAX_DIMS && VIEW_SIZE == VIEW_STRIDES + MAX_DIMS, "abi.h: view record");
static_assert(VIEW_BASE >= ARG_SLOTS && META_LEN == VIEW_BASE + MAX_VIEWS * VIEW_SIZE, "abi.h: call block");
static_assert(ARG_REDUCED < ARG_SLOTS && ADAM_MAXIMIZE < ARG_SLOTS && MAX_DIMS <= 31, "abi.h: scalar slots");
#endif
