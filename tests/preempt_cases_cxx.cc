// SPDX-License-Identifier: MIT
// preempt_cases_cxx.cc — C++ exception state held across a preemption:
// the exception being handled is per thread (__cxa_get_globals), and a
// catch block that computes and then rethrows must find its own.
#include <stdexcept>
#include <string>

#include "preempt_cases.h"

extern "C" int case_cxx_rethrow(int64_t hold_ns, int tag)
{
	std::string mine = std::to_string(tag);
	try {
		try {
			throw std::runtime_error(mine);
		} catch (const std::exception &) {
			case_spin_ns(hold_ns);
			throw;
		}
	} catch (const std::runtime_error &e) {
		return mine == e.what() ? 0 : 2;
	}
	return 1;
}
