import Modbus

/// A device with `values` in its holding registers from `offset`, and eight coils.
public func holdingDevice(_ values: [UInt16], at offset: UInt16 = 0) -> ModbusDevice {
    let store = DataStore()
    store.define(.holdingRegisters, at: offset, values: values)
    store.define(.coils, at: 0, values: [0, 0, 0, 0, 0, 0, 0, 0])
    return ModbusDevice(store: store)
}
