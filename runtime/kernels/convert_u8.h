/* uint8 pixels to [0, 1] floats, the conversion Keras tutorials apply (x / 255). */
#ifndef OC_CONVERT_U8_H
#define OC_CONVERT_U8_H

#include <stdint.h>

/* dst[i] = (float)src[i] / 255.0f for i < n, exactly (a true division:
 * multiplying by 1/255 differs in the last bit for 126 of the 256 values). */
void oc_u8_to_unit_float(const uint8_t *src, float *dst, int64_t n);

#endif
