{
  "targets": [
    {
      "target_name": "qkv_native",
      "sources": [
        "native/addon.cc",
        "native/pool.cc",
        "native/isa_avx2.cc",
        "native/isa_scalar.cc"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-fvisibility=hidden", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions", "-O3", "-fvisibility=hidden", "-fno-math-errno"],
      "defines": ["NAPI_VERSION=8"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-std=gnu++17", "-O3"]
      }
    }
  ]
}
