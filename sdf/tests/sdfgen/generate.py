#!/usr/bin/env python3
"""Generate Microkit system description files with `sdfgen` (PyPI), for rampart-sdf's
interoperability test (sdf/tests/sdfgen.rs).

Usage: generate.py OUT_DIR

Writes one system file per scenario into OUT_DIR, and OUT_DIR/manifest.json listing each file
with the Rampart board it is meant for. Everything here is built through sdfgen's public Python
API, as a Microkit user would, so the files are exactly what sdfgen renders.
"""

import json
import os
import sys
from importlib import metadata

from sdfgen import SystemDescription as S

# Highest physical address sdfgen may allocate below; only used for regions it places itself.
PADDR_TOP = 0x1_0000_0000

Trigger = S.IrqConventional.Trigger
IoapicTrigger = S.IrqIoapic.Trigger
Polarity = S.IrqIoapic.Polarity


def x86_client_server():
    """(a) x86_64 client/server: a protected procedure, shared buffers, a child PD, an I/O APIC
    IRQ and an I/O port (a 16550 UART on COM1)."""
    sdf = S(S.Arch.X86_64, PADDR_TOP)
    client = S.ProtectionDomain("client", "client.elf", priority=100)
    server = S.ProtectionDomain("server", "server.elf", priority=200, stack_size=0x4000)
    worker = S.ProtectionDomain("worker", "worker.elf", priority=150)
    server.add_child_pd(worker, child_id=1)

    request = S.MemoryRegion(sdf, "request", 0x1000)
    response = S.MemoryRegion(sdf, "response", 0x2000)
    scratch = S.MemoryRegion(sdf, "scratch", 0x20_0000)
    for mr in (request, response, scratch):
        sdf.add_mr(mr)

    client.add_map(S.Map(request, 0x400_0000, "rw", setvar_vaddr="request_vaddr", setvar_size="request_size"))
    client.add_map(S.Map(response, 0x400_1000, "r", setvar_vaddr="response_vaddr"))
    server.add_map(S.Map(request, 0x500_0000, "r", setvar_vaddr="request_vaddr"))
    server.add_map(S.Map(response, 0x500_1000, "rw", setvar_vaddr="response_vaddr"))
    server.add_map(S.Map(scratch, 0x600_0000, "rw", cached=False))
    worker.add_map(S.Map(response, 0x400_0000, "r"))

    server.add_irq(S.IrqIoapic(0, 4, 36, trigger=IoapicTrigger.EDGE, polarity=Polarity.ACTIVEHIGH, id=5, setvar_id="uart_irq"))
    server.add_ioport(S.IoPort(0x3F8, 8, id=6))

    sdf.add_pd(client)
    sdf.add_pd(server)
    # The client calls the (higher-priority) server; the server may notify the client back.
    sdf.add_channel(S.Channel(client, server, a_id=1, b_id=1, pp_a=True, pd_a_setvar_id="server_ch", pd_b_setvar_id="client_ch"))
    sdf.add_channel(S.Channel(server, worker, a_id=2, b_id=0))
    return sdf


def aarch64_device():
    """(b) AArch64 device driver: the PL011 UART of QEMU virt at its physical address, its GIC
    interrupt (SPI 1 = 33), a child PD and a client."""
    sdf = S(S.Arch.AARCH64, PADDR_TOP)
    driver = S.ProtectionDomain("uart_driver", "uart_driver.elf", priority=254)
    client = S.ProtectionDomain("app", "app.elf", priority=100)
    logger = S.ProtectionDomain("logger", "logger.elf", priority=90)
    driver.add_child_pd(logger, child_id=3)

    uart = S.MemoryRegion(sdf, "uart_regs", 0x1000, paddr=0x900_0000)
    tx = S.MemoryRegion(sdf, "tx_buffer", 0x4000)
    log = S.MemoryRegion(sdf, "log_buffer", 0x1000)
    for mr in (uart, tx, log):
        sdf.add_mr(mr)

    driver.add_map(S.Map(uart, 0x200_0000, "rw", cached=False, setvar_vaddr="uart_base"))
    driver.add_map(S.Map(tx, 0x300_0000, "r"))
    client.add_map(S.Map(tx, 0x300_0000, "rw", setvar_vaddr="tx_buffer", setvar_size="tx_buffer_size"))
    driver.add_map(S.Map(log, 0x400_0000, "rw"))
    logger.add_map(S.Map(log, 0x400_0000, "r"))

    driver.add_irq(S.IrqConventional(33, trigger=Trigger.LEVEL, id=0, setvar_id="uart_irq"))

    sdf.add_pd(driver)
    sdf.add_pd(client)
    sdf.add_channel(S.Channel(client, driver, a_id=0, b_id=1, pp_a=True))
    sdf.add_channel(S.Channel(driver, logger, a_id=2, b_id=0, notify_b=False))
    return sdf


RING_SIZE = 20


def x86_ring():
    """(c) A larger generated x86_64 system: a ring of 20 PDs (RING_SIZE), each notifying the next and
    handing it data through a region it writes and the next one reads."""
    sdf = S(S.Arch.X86_64, PADDR_TOP)
    pds = [S.ProtectionDomain(f"ring_{i:02}", "ring_node.elf", priority=100 + i) for i in range(RING_SIZE)]
    regions = []
    for i in range(RING_SIZE):
        mr = S.MemoryRegion(sdf, f"ring_{i:02}_to_{(i + 1) % RING_SIZE:02}", 0x1000 * (1 + i % 3))
        sdf.add_mr(mr)
        regions.append(mr)
    for i, pd in enumerate(pds):
        out = regions[i]
        inp = regions[(i - 1) % RING_SIZE]
        pd.add_map(S.Map(out, 0x1000_0000, "rw", setvar_vaddr="out_buffer", setvar_size="out_size"))
        pd.add_map(S.Map(inp, 0x2000_0000, "r", setvar_vaddr="in_buffer", setvar_size="in_size"))
        sdf.add_pd(pd)
    for i in range(RING_SIZE):
        nxt = (i + 1) % RING_SIZE
        # id 0: to the next node (may notify it); id 1: from the previous node (receive only).
        sdf.add_channel(S.Channel(pds[i], pds[nxt], a_id=0, b_id=1, notify_a=True, notify_b=False))
    return sdf


def x86_scheduling():
    """(d) Scheduling parameters: budgets, periods and a passive server called by its clients."""
    sdf = S(S.Arch.X86_64, PADDR_TOP)
    server = S.ProtectionDomain("server", "server.elf", priority=200, budget=500, period=1000, passive=True)
    rt = S.ProtectionDomain("realtime", "rt.elf", priority=150, budget=200, period=1000)
    batch = S.ProtectionDomain("batch", "batch.elf", priority=10, budget=5000)
    slow = S.ProtectionDomain("slow", "slow.elf", priority=20, period=10_000)
    idle = S.ProtectionDomain("idle", "idle.elf", priority=1, budget=1000, period=1000, stack_size=0x2000)
    for pd in (server, rt, batch, slow, idle):
        sdf.add_pd(pd)
    state = S.MemoryRegion(sdf, "server_state", 0x1000)
    sdf.add_mr(state)
    server.add_map(S.Map(state, 0x100_0000, "rw"))
    for i, client in enumerate((rt, batch, slow, idle)):
        sdf.add_channel(S.Channel(client, server, a_id=0, b_id=i, pp_a=True))
    return sdf


SPOKES = 6


def x86_autoalloc():
    """(e) Everything sdfgen can allocate left to it: channel ids, map vaddrs (get_map_vaddr),
    IRQ and I/O port ids, child ids, physical addresses."""
    sdf = S(S.Arch.X86_64, PADDR_TOP)
    hub = S.ProtectionDomain("hub", "hub.elf", priority=200)
    sdf.add_pd(hub)
    hub.add_irq(S.IrqIoapic(0, 1, 33, trigger=IoapicTrigger.EDGE))
    hub.add_irq(S.IrqIoapic(0, 12, 44, trigger=IoapicTrigger.LEVEL, polarity=Polarity.ACTIVELOW))
    hub.add_ioport(S.IoPort(0x60, 1))
    hub.add_ioport(S.IoPort(0x64, 1))
    supervisor = S.ProtectionDomain("supervisor", "supervisor.elf", priority=210)
    sdf.add_pd(supervisor)
    helper_a = S.ProtectionDomain("helper_a", "helper.elf", priority=50)
    helper_b = S.ProtectionDomain("helper_b", "helper.elf", priority=50)
    child_ids = {supervisor.add_child_pd(helper_a), supervisor.add_child_pd(helper_b)}
    assert len(child_ids) == 2, f"sdfgen gave two children the same id: {child_ids}"

    for i in range(SPOKES):
        spoke = S.ProtectionDomain(f"spoke_{i}", "spoke.elf", priority=100 + i)
        sdf.add_pd(spoke)
        data = S.MemoryRegion(sdf, f"spoke_{i}_data", 0x1000 * (i + 1))
        ctrl = S.MemoryRegion(sdf, f"spoke_{i}_ctrl", 0x1000)
        sdf.add_mr(data)
        sdf.add_mr(ctrl)
        for mr in (data, ctrl):
            hub.add_map(S.Map(mr, hub.get_map_vaddr(mr), "rw"))
            spoke.add_map(S.Map(mr, spoke.get_map_vaddr(mr), "r" if mr is ctrl else "rw"))
        ch = S.Channel(spoke, hub, pp_a=True)
        sdf.add_channel(ch)
    # Physical addresses chosen by sdfgen (allocated down from PADDR_TOP), a 2 MiB region that
    # get_map_vaddr aligns, and an executable map.
    dma = S.MemoryRegion(sdf, "dma", 0x4000, physical=True)
    dma_large = S.MemoryRegion(sdf, "dma_large", 0x20_0000, physical=True)
    code = S.MemoryRegion(sdf, "jit_code", 0x1000)
    for mr in (dma, dma_large, code):
        sdf.add_mr(mr)
    hub.add_map(S.Map(dma, hub.get_map_vaddr(dma), "rw", cached=False, setvar_vaddr="dma_vaddr"))
    hub.add_map(S.Map(dma_large, hub.get_map_vaddr(dma_large), "rw", cached=False))
    hub.add_map(S.Map(code, hub.get_map_vaddr(code), "rx"))
    supervisor.add_map(S.Map(code, supervisor.get_map_vaddr(code), "rw"))

    for helper in (helper_a, helper_b):
        sdf.add_channel(S.Channel(supervisor, helper))
    sdf.add_channel(S.Channel(hub, supervisor))
    return sdf


def armv7_sabrelite():
    """An ARMv7 (AArch32) system for the i.MX6 sabrelite: UART1 at its physical address with its
    GIC interrupt (SPI 26 = 58), a child PD and a protected procedure."""
    sdf = S(S.Arch.AARCH32, PADDR_TOP)
    driver = S.ProtectionDomain("serial", "serial.elf", priority=200)
    client = S.ProtectionDomain("shell", "shell.elf", priority=100)
    timer = S.ProtectionDomain("timer", "timer.elf", priority=150)
    driver.add_child_pd(timer)
    uart = S.MemoryRegion(sdf, "uart1", 0x1000, paddr=0x0202_0000)
    buf = S.MemoryRegion(sdf, "serial_buffer", 0x1_0000)
    sdf.add_mr(uart)
    sdf.add_mr(buf)
    driver.add_map(S.Map(uart, driver.get_map_vaddr(uart), "rw", cached=False, setvar_vaddr="uart_base"))
    driver.add_map(S.Map(buf, driver.get_map_vaddr(buf), "rw"))
    client.add_map(S.Map(buf, client.get_map_vaddr(buf), "rw"))
    driver.add_irq(S.IrqConventional(58, trigger=Trigger.LEVEL))
    sdf.add_pd(driver)
    sdf.add_pd(client)
    sdf.add_channel(S.Channel(client, driver, pp_a=True))
    sdf.add_channel(S.Channel(driver, timer))
    return sdf


SYSTEMS = [
    ("x86_client_server.xml", "qemu-x86_64", x86_client_server),
    ("aarch64_device.xml", "qemu-aarch64-virt", aarch64_device),
    ("x86_ring.xml", "qemu-x86_64", x86_ring),
    ("x86_scheduling.xml", "qemu-x86_64", x86_scheduling),
    ("x86_autoalloc.xml", "qemu-x86_64", x86_autoalloc),
    ("armv7_sabrelite.xml", "qemu-sabrelite", armv7_sabrelite),
]


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT_DIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    entries = []
    for file, board, build in SYSTEMS:
        xml = build().render()
        with open(os.path.join(out, file), "w", encoding="utf-8") as f:
            f.write(xml)
        entries.append({"file": file, "board": board, "description": " ".join(build.__doc__.split())})
    manifest = {"generator": f"sdfgen {metadata.version('sdfgen')}", "systems": entries}
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
