// CJPEGSafe: JPEG decoding through libjpeg with setjmp/longjmp error recovery.
// libjpeg reports fatal errors by calling error_exit, which must not return;
// Swift cannot setjmp, so the jump target lives here, in C, and Swift sees a
// plain function returning a status and a message.
#ifndef CJPEGSAFE_H
#define CJPEGSAFE_H

#include <stddef.h>
#include <stdint.h>

/// Decodes a JPEG held in memory into 8-bit RGB, row-major, no padding.
/// On success returns 0 and sets *pixels (free with peftlab_jpeg_free), *width, *height.
/// On failure returns nonzero and writes libjpeg's message into message; an image of more
/// than max_pixels pixels is refused (3) before its buffer is allocated.
int peftlab_jpeg_decode_rgb(const uint8_t *data, size_t size,
                            size_t max_pixels, uint8_t **pixels, int *width, int *height,
                            char *message, size_t message_capacity);

/// Frees a buffer returned by peftlab_jpeg_decode_rgb.
void peftlab_jpeg_free(uint8_t *pixels);

#endif
