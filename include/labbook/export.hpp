// Symbol visibility for the labbook library: everything is hidden unless marked LABBOOK_EXPORT.
#pragma once

#if defined(_WIN32)
#define LABBOOK_EXPORT
#else
#define LABBOOK_EXPORT [[gnu::visibility("default")]]
#endif
