/* placeholder so the runtime library has a translation unit while it is being written */
#include "rt.h"
