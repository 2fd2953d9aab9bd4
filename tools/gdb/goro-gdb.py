# goro-gdb.py — goroutines in gdb, as Go's runtime-gdb.py gives them for Go.
#
# gdb sees threads; a goro program's goroutines are mostly parked, with no
# thread at all.  This extension reads the goroutine table through the
# debugger ABI (<goro/debug.h>: the exported object goro_debug_descriptor,
# whose layout is mirrored in DESCRIPTOR below) and adds Go's commands:
#
#   info goroutines        id, state, wait reason, top frame, name
#   goroutine N bt         full backtrace of goroutine N
#   goroutine all bt       the same for every goroutine
#
# It works on a live process and on a core file alike, because it never
# writes to the target.  A running goroutine is unwound on its thread.  A
# parked one has only the switch frame on its stack (the callee-saved
# registers and the return address); to unwind from there without
# setting registers (which a core file does not allow), a Python frame
# unwinder, armed only while a goroutine is being printed, says that the
# caller of the selected thread's innermost frame has the goroutine's
# saved registers: frame 1 onwards is then the goroutine's own stack,
# unwound by gdb's usual DWARF machinery.
#
# Loaded automatically with libgoro.so when installed in gdb's auto-load
# directory (see docs/architecture.md), or by hand: `source goro-gdb.py`.

import struct

import gdb
import gdb.unwinder

# ---- the descriptor (<goro/debug.h>, GORO_DEBUG_VERSION 1) ----------------

MAGIC = b"goro-dbg"
VERSION = 1
NAME_LEN = 24
MAX_STATUS = 8
MAX_WAIT = 32
MAX_ENTRIES = 8

# (field, struct format) in declaration order; all naturally aligned.
DESCRIPTOR = (
    [("magic", "8s"), ("version", "I"), ("size", "I")]
    + [(f, "Q") for f in ("allgs_items_addr", "allgs_count_addr",
                          "allm_addr", "running_addr", "generation_addr",
                          "goro_start_addr")]
    + [(f, "I") for f in (
        "g_size", "g_id", "g_status", "g_wait_reason", "g_wait_since",
        "g_name", "g_name_size", "g_ctx_sp", "g_async_preempted",
        "g_parent_id", "g_create_pc", "g_fn", "g_stack_lo", "g_stack_hi",
        "g_generation",
        "m_id", "m_tid", "m_curg", "m_alllink",
        "frame_size", "frame_rip", "frame_rbp", "frame_rbx",
        "frame_r12", "frame_r13", "frame_r14", "frame_r15",
        "status_count", "status_idle", "status_runnable", "status_running",
        "status_syscall", "status_waiting", "status_dead")]
    + [("status_names", "%ds" % (MAX_STATUS * NAME_LEN)),
       ("wait_count", "I"),
       ("wait_names", "%ds" % (MAX_WAIT * NAME_LEN)),
       ("scheduler_frames", "%ds" % (MAX_ENTRIES * NAME_LEN)),
       ("interrupt_frames", "%ds" % (MAX_ENTRIES * NAME_LEN)),
       ("g_stack_high_water", "I")]
)
DESCRIPTOR_FORMAT = "<" + "".join(f for _, f in DESCRIPTOR)
DESCRIPTOR_SIZE = struct.calcsize(DESCRIPTOR_FORMAT)
MAX_FRAMES = 100
MAX_MS = 100000


def _names(blob, count):
    out = []
    for i in range(count):
        raw = blob[i * NAME_LEN:(i + 1) * NAME_LEN]
        out.append(raw.split(b"\0", 1)[0].decode("utf-8", "replace"))
    return out


class Descriptor:
    def __init__(self, fields):
        self.__dict__.update(fields)
        self.status_list = _names(self.status_names, MAX_STATUS)
        self.wait_list = _names(self.wait_names, MAX_WAIT)
        self.scheduler = set(n for n in _names(self.scheduler_frames,
                                               MAX_ENTRIES) if n)


def _read(addr, size):
    return bytes(gdb.selected_inferior().read_memory(addr, size))


def _u(fmt, addr):
    return struct.unpack("<" + fmt, _read(addr, struct.calcsize(fmt)))[0]


def descriptor():
    """The target's descriptor, or a gdb.GdbError saying why not."""
    try:
        addr = int(gdb.parse_and_eval("(unsigned long)&goro_debug_descriptor"))
    except gdb.error:
        raise gdb.GdbError("not a goro program (no goro_debug_descriptor: "
                           "is libgoro loaded?)")
    head = _read(addr, 16)
    magic, version, size = struct.unpack("<8sII", head)
    if magic != MAGIC:
        raise gdb.GdbError("goro_debug_descriptor: bad magic")
    if version != VERSION or size < DESCRIPTOR_SIZE:
        raise gdb.GdbError("goro descriptor version %d (%d bytes); this "
                           "script reads version %d" % (version, size, VERSION))
    values = struct.unpack(DESCRIPTOR_FORMAT, _read(addr, DESCRIPTOR_SIZE))
    return Descriptor(dict(zip((n for n, _ in DESCRIPTOR), values)))


class Goroutine:
    pass


def goroutines(d):
    """Live goroutines of the current run, in table order."""
    if not _u("B", d.running_addr):
        raise gdb.GdbError("the goro runtime is not running (goro_main has "
                           "not started, or has returned)")
    generation = _u("I", d.generation_addr)
    count = _u("Q", d.allgs_count_addr)
    items = _u("Q", d.allgs_items_addr)
    ptrs = struct.unpack("<%dQ" % count, _read(items, 8 * count)) if count else ()
    out = []
    for p in ptrs:
        try:
            rec = _read(p, d.g_size)
        except gdb.MemoryError:
            continue
        field = lambda fmt, off: struct.unpack_from("<" + fmt, rec, off)[0]
        status = field("I", d.g_status)
        if status == d.status_dead or field("I", d.g_generation) != generation:
            continue
        g = Goroutine()
        g.addr = p
        g.id = field("q", d.g_id)
        g.status = status
        g.wait_reason = field("B", d.g_wait_reason)
        raw = rec[d.g_name:d.g_name + d.g_name_size].split(b"\0", 1)[0]
        g.name = raw.decode("utf-8", "backslashreplace")
        g.ctx_sp = field("Q", d.g_ctx_sp)
        g.fn = field("Q", d.g_fn)
        g.stack_lo = field("Q", d.g_stack_lo)
        g.stack_hi = field("Q", d.g_stack_hi)
        g.tid = 0
        out.append(g)
    # Which thread runs which goroutine: the M list.
    by_addr = dict((g.addr, g) for g in out)
    m = _u("Q", d.allm_addr)
    for _ in range(MAX_MS):
        if not m:
            break
        curg = _u("Q", m + d.m_curg)
        if curg in by_addr:
            by_addr[curg].tid = _u("i", m + d.m_tid)
        m = _u("Q", m + d.m_alllink)
    return out


def state_of(d, g):
    """(state, wait reason or None), as gdump prints them."""
    if g.status == d.status_waiting:
        reason = (d.wait_list[g.wait_reason]
                  if g.wait_reason < d.wait_count else "?")
        return "waiting", reason
    if g.status < MAX_STATUS and d.status_list[g.status]:
        return d.status_list[g.status], None
    return "unknown", None


# ---- unwinding a switched-out goroutine ------------------------------------

class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class GoroutineUnwinder(gdb.unwinder.Unwinder):
    """While `regs` is set: the caller of the frame at `level` (the
    innermost frame that is not inlined) has the registers in regs."""

    def __init__(self):
        super().__init__("goro-goroutine")
        self.regs = None
        self.level = 0

    def __call__(self, pending):
        if self.regs is None or pending.level() != self.level:
            return None
        pc = pending.read_register("rip")
        # A frame id at the bottom of the address space: the goroutine's
        # frames are then never "inner" to it, wherever its stack lies.
        info = pending.create_unwind_info(_FrameId(gdb.Value(16), pc))
        for reg, value in self.regs.items():
            info.add_saved_register(reg, gdb.Value(value).cast(
                pending.read_register(reg).type))
        return info


_unwinder = GoroutineUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _saved_regs(d, g):
    frame = _read(g.ctx_sp, d.frame_size)
    get = lambda off: struct.unpack_from("<Q", frame, off)[0]
    return {
        "rip": get(d.frame_rip), "rsp": g.ctx_sp + d.frame_size,
        "rbp": get(d.frame_rbp), "rbx": get(d.frame_rbx),
        "r12": get(d.frame_r12), "r13": get(d.frame_r13),
        "r14": get(d.frame_r14), "r15": get(d.frame_r15),
    }


def _frame_name(frame):
    name = frame.name()
    if name:
        return name
    try:
        text = gdb.execute("info symbol %#x" % frame.pc(), to_string=True)
        if " in section " in text:
            return text.split(" in section ")[0].split(" + ")[0].strip()
    except gdb.error:
        pass
    return None


def _walk(frame, limit):
    """(pc, name, file, line) of frame and its callers."""
    out = []
    while frame is not None and len(out) < limit:
        sal = frame.find_sal()
        out.append((frame.pc(), _frame_name(frame),
                    sal.symtab.filename if sal and sal.symtab else None,
                    sal.line if sal else 0))
        if out[-1][1] == "goro_start":
            break
        try:
            frame = frame.older()
        except gdb.error:
            break
    return out


def _thread_of(tid):
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == tid:
            return t
    return None


def frames_of(d, g, limit=MAX_FRAMES):
    """The goroutine's frames, innermost first, scheduler frames left out:
    a list of (pc, function, file, line); None with a reason if unknown."""
    if g.status in (d.status_running, d.status_syscall):
        thread = _thread_of(g.tid) if g.tid else None
        if thread is None:
            return None, "stack unavailable (switching)"
        was = gdb.selected_thread()
        thread.switch()
        try:
            return _walk(gdb.newest_frame(), limit), None
        finally:
            if was is not None:
                was.switch()
    if not g.stack_lo:
        # Never ran: its start function is all there is.
        return [(g.fn, _pc_name(g.fn), None, 0)], None
    if not (g.stack_lo <= g.ctx_sp and g.ctx_sp + d.frame_size <= g.stack_hi):
        return None, "stack unavailable"
    if gdb.selected_thread() is None:
        return None, "no thread to unwind on"
    # Inlined frames at the top of the thread are not unwound by unwinders:
    # the override goes on the first real frame.
    base = gdb.newest_frame()
    while base.type() == gdb.INLINE_FRAME and base.older() is not None:
        base = base.older()
    _unwinder.level = base.level()
    _unwinder.regs = _saved_regs(d, g)
    gdb.invalidate_cached_frames()
    try:
        base = gdb.newest_frame()
        while base.level() < _unwinder.level:
            base = base.older()
        frames = _walk(base.older(), limit + len(d.scheduler))
    finally:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()
    i = 0
    while i + 1 < len(frames) and frames[i][1] in d.scheduler:
        i += 1
    return frames[i:i + limit], None


def _pc_name(pc):
    try:
        block = gdb.block_for_pc(pc)
        if block is not None and block.function is not None:
            return block.function.print_name
    except RuntimeError:
        pass
    try:
        text = gdb.execute("info symbol %#x" % pc, to_string=True)
        if " in section " in text:
            return text.split(" in section ")[0].split(" + ")[0].strip()
    except gdb.error:
        pass
    return None


def _location(pc, name, path, line):
    text = "%#018x in %s ()" % (pc, name or "??")
    if path:
        text += " at %s:%d" % (path, line)
    return text


# ---- commands ---------------------------------------------------------------

class InfoGoroutines(gdb.Command):
    """List the goroutines: id, state, wait reason, top frame, name.
A '*' marks goroutines running on a thread, followed by its LWP."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK,
                         gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        d = descriptor()
        for g in goroutines(d):
            state, reason = state_of(d, g)
            frames, why = frames_of(d, g, limit=1)
            top = (_location(*frames[0]) if frames else why)
            mark = "*" if g.tid else " "
            line = "%s %d %s" % (mark, g.id, state)
            if reason:
                line += " (%s)" % reason
            if g.tid:
                line += " [LWP %d]" % g.tid
            line += " %s" % top
            if g.name:
                line += ' "%s"' % g.name
            gdb.write(line + "\n")


class GoroutineCommand(gdb.Command):
    """goroutine N bt: backtrace of goroutine N.
goroutine all bt: backtrace of every goroutine."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) != 2 or args[1] not in ("bt", "backtrace"):
            raise gdb.GdbError("usage: goroutine N bt | goroutine all bt")
        d = descriptor()
        gs = goroutines(d)
        if args[0] != "all":
            try:
                want = int(args[0], 0)
            except ValueError:
                raise gdb.GdbError("goroutine: %r is not a goroutine id"
                                   % args[0])
            gs = [g for g in gs if g.id == want]
            if not gs:
                raise gdb.GdbError("no goroutine %d" % want)
        for g in gs:
            state, reason = state_of(d, g)
            head = "goroutine %d" % g.id
            if g.name:
                head += ' "%s"' % g.name
            gdb.write("%s [%s]:\n" % (head, reason or state))
            frames, why = frames_of(d, g)
            if frames is None:
                gdb.write("\t%s\n" % why)
            for i, f in enumerate(frames or ()):
                gdb.write("#%-2d %s\n" % (i, _location(*f)))
            gdb.write("\n")


InfoGoroutines()
GoroutineCommand()
