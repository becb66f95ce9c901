#ifndef PARLEY_CZLIB_SHIM_H
#define PARLEY_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 is a macro; this wrapper makes it callable from Swift. windowBits 15 + 16 asks
// zlib for a gzip wrapper (RFC 1952), which browsers accept as Content-Encoding: gzip.
static inline int czlib_gzip_init(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

#endif
