import Foundation
import HTTPTypes
import Synchronization
import Testing
import TestUpstream

@testable import Parley

/// The address ranges the SSRF guard refuses.
@Suite struct AddressPolicyTests {
    @Test(arguments: [
        [127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [172, 31, 255, 255], [192, 168, 1, 1], [169, 254, 169, 254],
        [100, 64, 0, 1], [100, 127, 255, 255], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255], [198, 18, 0, 1],
    ] as [[UInt8]])
    func internalIPv4(address: [UInt8]) {
        #expect(AddressPolicy.isInternal(address))
    }

    @Test(arguments: [[8, 8, 8, 8], [1, 1, 1, 1], [172, 32, 0, 1], [100, 128, 0, 1], [192, 169, 0, 1], [52, 1, 2, 3]] as [[UInt8]])
    func publicIPv4(address: [UInt8]) {
        #expect(!AddressPolicy.isInternal(address))
    }

    @Test func ipv6Ranges() {
        func v6(_ groups: [UInt16]) -> [UInt8] { groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0, 0, 1])), "::1")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0, 0, 0])), "::")
        #expect(AddressPolicy.isInternal(v6([0xFE80, 0, 0, 0, 0, 0, 0, 1])), "link-local")
        #expect(AddressPolicy.isInternal(v6([0xFD00, 0, 0, 0, 0, 0, 0, 1])), "unique local")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0xFFFF, 0x7F00, 0x0001])), "IPv4-mapped loopback")
        #expect(AddressPolicy.isInternal(v6([0, 0, 0, 0, 0, 0xFFFF, 0xA9FE, 0xA9FE])), "IPv4-mapped metadata")
        #expect(AddressPolicy.isInternal(v6([0xFF02, 0, 0, 0, 0, 0, 0, 1])), "multicast")
        #expect(!AddressPolicy.isInternal(v6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111])), "a public address")
        #expect(AddressPolicy.curlLiteral(v6([0, 0, 0, 0, 0, 0, 0, 1])) == "[0:0:0:0:0:0:0:1]")
    }
}
