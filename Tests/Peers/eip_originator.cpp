// A Class 1 originator on EIPScanner, driven by the I/O tests: it opens one
// I/O connection, prints the input data it receives whenever it changes, and
// takes commands on stdin, one per line:
//   out HEX    the output data to send (HEX: two digits a byte)
//   stop       stop sending O->T packets (the target should time out)
//   idle       send in Idle (the run/idle header's bit 0 clear)
//   run        send in Run again
//   close      Forward Close
//   reopen     Forward Open again
//   listen P   open a second connection beside the first, on the same input
//              with O2T point P (199: listen only) and heartbeats
//   quit
// It prints "open ok" or "open failed", "in HEX" for new input data, "closed"
// when the target's T->O packets stop (EIPScanner's own timeout), and
// "close ok" after a Forward Close; the second connection's lines are
// "listen ok" or "listen failed", "listen in HEX" and "listen closed".
//
//   eip_originator HOST TCP_PORT CONFIG O2T_POINT T2O_POINT O2T_SIZE T2O_SIZE RPI_MS MULTIPLIER [cos]
//
// "cos" asks for the change-of-state trigger instead of cyclic.
//
// O2T_SIZE 0 with a heartbeat point (input only, listen only) sends
// heartbeats: the sequence count alone, with no run/idle header.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// EIPScanner always sends Run (IOConnection.cpp, "TODO: Always RUN"): the
// Idle packets are built here, from the connection's own ids and counters.
#define private public
#include "ConnectionManager.h"
#include "IOConnection.h"
#include "SessionInfo.h"
#include "cip/connectionManager/NetworkConnectionParams.h"
#include "eip/CommonPacket.h"
#include "eip/CommonPacketItemFactory.h"
#include "utils/Buffer.h"
#include "utils/Logger.h"
#undef private

using namespace eipScanner;
using eipScanner::cip::connectionManager::ConnectionParameters;
using eipScanner::cip::connectionManager::NetworkConnectionParams;

static std::string hex(const std::vector<uint8_t>& data) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (auto byte : data) { out += digits[byte >> 4]; out += digits[byte & 15]; }
    return out;
}

static std::vector<uint8_t> bytes(const std::string& text) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(std::stoi(text.substr(i, 2), nullptr, 16));
    return out;
}

struct Settings {
    std::string host;
    int port, config, o2tPoint, t2oPoint, o2tSize, t2oSize, rpiMs, multiplier;
    bool changeOfState;
};

static ConnectionParameters parameters(const Settings& s) {
    ConnectionParameters p;
    p.connectionPath = {0x20, 0x04, 0x24, (uint8_t)s.config, 0x2C, (uint8_t)s.o2tPoint, 0x2C, (uint8_t)s.t2oPoint};
    p.o2tRealTimeFormat = s.o2tSize > 0;
    p.originatorVendorId = 342;
    p.originatorSerialNumber = 0x12345;
    p.t2oNetworkConnectionParams = NetworkConnectionParams::P2P | NetworkConnectionParams::SCHEDULED_PRIORITY | s.t2oSize;
    p.o2tNetworkConnectionParams = NetworkConnectionParams::P2P | NetworkConnectionParams::SCHEDULED_PRIORITY | s.o2tSize;
    p.o2tRPI = p.t2oRPI = s.rpiMs * 1000;
    p.connectionTimeoutMultiplier = s.multiplier;
    p.transportTypeTrigger = NetworkConnectionParams::CLASS1 | (s.changeOfState ? NetworkConnectionParams::TRIG_CHANGE : 0);
    return p;
}

static void say(const std::string& line) { std::cout << line << std::endl; }

// One O->T packet with the run/idle header cleared, numbered after EIPScanner's own.
static void sendIdle(IOConnection& c) {
    c._o2tSequenceNumber++;
    eip::CommonPacket packet;
    eip::CommonPacketItemFactory factory;
    packet << factory.createSequenceAddressItem(c._o2tNetworkConnectionId, c._o2tSequenceNumber);
    utils::Buffer buffer;
    buffer << ++c._sequenceValueCount;
    cip::CipUdint header = 0;
    buffer << header << c._outputData;
    packet << factory.createConnectedDataItem(buffer.data());
    c._socket->Send(packet.pack());
}

int main(int argc, char** argv) {
    if (argc != 10 && !(argc == 11 && std::string(argv[10]) == "cos")) {
        std::cerr << "usage: eip_originator HOST TCP_PORT CONFIG O2T_POINT T2O_POINT O2T_SIZE T2O_SIZE RPI_MS MULTIPLIER [cos]\n";
        return 2;
    }
    Settings s{argv[1], std::stoi(argv[2]), std::stoi(argv[3]), std::stoi(argv[4]), std::stoi(argv[5]),
               std::stoi(argv[6]), std::stoi(argv[7]), std::stoi(argv[8]), std::stoi(argv[9]), argc == 11};
    utils::Logger::setLogLevel(utils::LogLevel::ERROR);
    auto session = std::make_shared<SessionInfo>(s.host, s.port);
    ConnectionManager manager;

    std::mutex lock;
    std::deque<std::string> commands;
    std::thread reader([&] {
        std::string line;
        while (std::getline(std::cin, line)) { std::lock_guard<std::mutex> guard(lock); commands.push_back(line); }
        std::lock_guard<std::mutex> guard(lock);
        commands.push_back("quit");
    });
    reader.detach();

    std::vector<uint8_t> output(s.o2tSize, 0);
    std::string lastInput;
    bool idle = false;
    auto lastIdle = std::chrono::steady_clock::now();
    IOConnection::WPtr io;
    auto open = [&] {
        io = manager.forwardOpen(session, parameters(s));
        auto c = io.lock();
        if (!c) { say("open failed"); return; }
        lastInput.clear();
        c->setDataToSend(output);
        c->setReceiveDataListener([&](cip::CipUdint, cip::CipUint, const std::vector<uint8_t>& data) {
            auto text = hex(data);
            if (text != lastInput) { lastInput = text; say("in " + text); }
        });
        c->setCloseListener([] { say("closed"); });
        say("open ok");
    };
    open();

    IOConnection::WPtr second;
    std::string lastListened;
    auto listen = [&](int point) {
        Settings beside = s;
        beside.o2tPoint = point;
        beside.o2tSize = 0;
        second = manager.forwardOpen(session, parameters(beside));
        auto c = second.lock();
        if (!c) { say("listen failed"); return; }
        c->setReceiveDataListener([&](cip::CipUdint, cip::CipUint, const std::vector<uint8_t>& data) {
            auto text = hex(data);
            if (text != lastListened) { lastListened = text; say("listen in " + text); }
        });
        c->setCloseListener([] { say("listen closed"); });
        say("listen ok");
    };

    while (true) {
        // EIPScanner selects on no socket before its first connection: wait instead.
        if (manager.hasOpenConnections()) manager.handleConnections(std::chrono::milliseconds(1));
        else std::this_thread::sleep_for(std::chrono::milliseconds(1));
        auto c = io.lock();
        auto now = std::chrono::steady_clock::now();
        if (c && idle && now - lastIdle >= std::chrono::milliseconds(s.rpiMs)) { sendIdle(*c); lastIdle = now; }
        std::string command;
        {
            std::lock_guard<std::mutex> guard(lock);
            if (commands.empty()) continue;
            command = commands.front();
            commands.pop_front();
        }
        std::istringstream words(command);
        std::string verb, argument;
        words >> verb >> argument;
        if (verb == "quit") break;
        if (verb == "reopen") { idle = false; open(); continue; }
        if (!c) { say("no connection"); continue; }
        if (verb == "listen") { listen(std::stoi(argument)); continue; }
        if (verb == "out") { output = bytes(argument); c->setDataToSend(output); }
        else if (verb == "stop") c->setDataToSend({});
        // EIPScanner sends nothing while its interval is out of reach: the Idle packets go instead.
        else if (verb == "idle") { idle = true; c->_o2tAPI = 0xFFFFFFFF; }
        else if (verb == "run") { idle = false; c->_o2tAPI = s.rpiMs * 1000; }
        else if (verb == "close") { manager.forwardClose(session, io); say("close ok"); }
        say("done " + verb);
    }
    return 0;
}
