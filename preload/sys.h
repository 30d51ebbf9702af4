/* The shim's raw syscalls live in common/ so common code it links can use
 * them too. */
#include "common/sys.h"
