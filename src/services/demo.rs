//! The demo data set behind `serve --demo` and `seed --demo`: a few vendors, locations, ~50
//! products and purchase orders in every status, created through the same use cases clients
//! call, so the demo obeys every rule (stock, on-order, bills, ledger).

use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::auth::Actor;
use crate::config::BusinessConfig;
use crate::error::ServiceError;
use crate::events::EventBus;
use crate::services::master_data::{
    self, AddressInput, ContactInput, NewLocation, NewProduct, NewVendor, ReferenceKind,
};
use crate::services::purchasing::{self, NewLine, NewPurchaseOrder};
use crate::services::receiving::{self, NewReceipt, ReceiveLine};
use crate::services::UseCase;
use entity::purchase_order_line;

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn address(street: &str, city: &str, region: &str, postal_code: &str) -> AddressInput {
    AddressInput {
        street: street.to_owned(),
        city: city.to_owned(),
        region: Some(region.to_owned()),
        postal_code: postal_code.to_owned(),
        country: "US".to_owned(),
    }
}

const PRODUCT_FAMILIES: &[(&str, &str, &str, i64)] = &[
    ("BOLT-M8", "Hex bolt M8 x {n} mm, zinc plated", "each", 35),
    (
        "PIPE-CU",
        "Copper pipe 1/2 in, type L, {n} ft length",
        "ft",
        412,
    ),
    ("FILTER-HVAC", "Pleated HVAC filter MERV {n}", "each", 1150),
    ("WIRE-THHN", "THHN wire {n} AWG, black", "m", 89),
    ("BREAKER", "Circuit breaker single pole {n} A", "each", 1299),
];

/// Loads the demo data set unless the database already holds vendors. Returns whether it did.
pub async fn seed_if_empty(
    db: &DatabaseConnection,
    business: &BusinessConfig,
) -> Result<bool, ServiceError> {
    if entity::vendor::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let actor = Actor::system();
    let events = EventBus::default();
    let uc = UseCase {
        db,
        actor: &actor,
        business,
        events: &events,
        can_set_costs: true,
    };
    let vendors = seed_vendors(db, business).await?;
    let locations = seed_locations(db).await?;
    let references = seed_references(db).await?;
    let products = seed_products(db, &vendors).await?;
    let ids = Demo {
        vendors,
        locations,
        products,
        references,
    };
    seed_orders(uc, &ids).await?;
    Ok(true)
}

/// The ids of the demo's master data, in the order they were created.
struct Demo {
    vendors: Vec<i32>,
    locations: Vec<i32>,
    products: Vec<i32>,
    references: References,
}

/// The demo's reference records.
struct References {
    residential: i32,
    commercial: i32,
    stock_type: i32,
    job_type: i32,
    job: i32,
    project: i32,
    technician: i32,
}

async fn seed_vendors(
    db: &DatabaseConnection,
    business: &BusinessConfig,
) -> Result<Vec<i32>, ServiceError> {
    let vendors = [
        (
            "ACME",
            "Acme Industrial Supply",
            address("100 Foundry Rd", "Dayton", "OH", "45402"),
            "0.0725",
            30,
        ),
        (
            "NORTHWIND",
            "Northwind Plumbing Wholesale",
            address("8 Harbor St", "Portland", "ME", "04101"),
            "0.055",
            45,
        ),
        (
            "VOLTA",
            "Volta Electric Distributors",
            address("2200 Grid Ave", "Austin", "TX", "78701"),
            "0.0825",
            15,
        ),
        (
            "CLEARAIR",
            "ClearAir HVAC Parts",
            address("51 Breeze Ln", "Denver", "CO", "80202"),
            "0.029",
            30,
        ),
    ];
    let mut vendor_ids = Vec::new();
    for (code, name, addr, tax, terms) in vendors {
        let vendor = master_data::create_vendor(
            db,
            business,
            NewVendor {
                name: name.to_owned(),
                code: code.to_owned(),
                address: addr,
                contact: Some(ContactInput {
                    name: Some(format!(
                        "{} orders desk",
                        name.split(' ').next().unwrap_or(name)
                    )),
                    email: Some(format!("orders@{}.example.com", code.to_lowercase())),
                    phone: Some("+1 555 0100".to_owned()),
                }),
                default_tax_rate: Some(tax.parse().unwrap_or_default()),
                payment_terms_days: Some(terms),
                ..Default::default()
            },
        )
        .await?;
        vendor_ids.push(vendor.id);
    }
    Ok(vendor_ids)
}

async fn seed_locations(db: &DatabaseConnection) -> Result<Vec<i32>, ServiceError> {
    let mut location_ids = Vec::new();
    for (code, name, addr) in [
        (
            "WH-MAIN",
            "Main warehouse",
            Some(address("1 Depot Way", "Columbus", "OH", "43004")),
        ),
        (
            "WH-EAST",
            "East warehouse",
            Some(address("77 Dock St", "Pittsburgh", "PA", "15201")),
        ),
        ("TRUCK-07", "Service truck 7", None),
    ] {
        let location = master_data::create_location(
            db,
            NewLocation {
                code: code.to_owned(),
                name: name.to_owned(),
                address: addr,
            },
        )
        .await?;
        location_ids.push(location.id);
    }
    Ok(location_ids)
}

async fn seed_references(db: &DatabaseConnection) -> Result<References, ServiceError> {
    let create = |kind, number, name| master_data::create_reference(db, kind, number, name);
    Ok(References {
        residential: create(ReferenceKind::BusinessUnit, None, "Residential service")
            .await?
            .id,
        commercial: create(ReferenceKind::BusinessUnit, None, "Commercial installs")
            .await?
            .id,
        stock_type: create(ReferenceKind::PurchaseOrderType, None, "Stock")
            .await?
            .id,
        job_type: create(ReferenceKind::PurchaseOrderType, None, "Job")
            .await?
            .id,
        job: create(
            ReferenceKind::Job,
            Some("J-1001"),
            "Boiler replacement, 12 Elm St",
        )
        .await?
        .id,
        project: create(
            ReferenceKind::Project,
            Some("P-2026-04"),
            "Office fit-out, Tower B",
        )
        .await?
        .id,
        technician: create(ReferenceKind::Technician, Some("T-07"), "Dana Reyes")
            .await?
            .id,
    })
}

/// Ten sizes of five families: 50 products, each preferring the vendor of its family.
async fn seed_products(db: &DatabaseConnection, vendors: &[i32]) -> Result<Vec<i32>, ServiceError> {
    let mut product_ids = Vec::new();
    for (family_index, (prefix, description, unit, cost_cents)) in
        PRODUCT_FAMILIES.iter().enumerate()
    {
        for size in 1..=10i64 {
            let n = match *prefix {
                "BOLT-M8" => size * 10,
                "PIPE-CU" => size * 2,
                "FILTER-HVAC" => 4 + size,
                "WIRE-THHN" => 20 - size,
                _ => 10 + size * 5,
            };
            let product = master_data::create_product(
                db,
                NewProduct {
                    sku: format!("{prefix}-{n}"),
                    description: description.replace("{n}", &n.to_string()),
                    unit_of_measure: Some((*unit).to_owned()),
                    default_unit_cost: Some(dec(cost_cents + size * 7, 2)),
                    preferred_vendor_id: Some(vendors[family_index % vendors.len()]),
                    serialized: Some(*prefix == "BREAKER" && size > 8),
                    over_receipt_allowance_percent: (*prefix == "PIPE-CU").then(|| dec(5, 0)),
                },
            )
            .await?;
            product_ids.push(product.id);
        }
    }
    Ok(product_ids)
}

/// A demo order of `vendor` shipped to `ship_to`, with `lines` lines of every third product
/// from `first_product`.
fn demo_order(
    ids: &Demo,
    vendor: usize,
    first_product: usize,
    ship_to: usize,
    lines: usize,
) -> NewPurchaseOrder {
    let r = &ids.references;
    NewPurchaseOrder {
        vendor_id: ids.vendors[vendor],
        ship_to_id: ids.locations[ship_to],
        type_id: if vendor.is_multiple_of(2) {
            r.stock_type
        } else {
            r.job_type
        },
        business_unit_id: if ship_to == 0 {
            r.residential
        } else {
            r.commercial
        },
        job_id: (vendor % 2 == 1).then_some(r.job),
        project_id: (vendor == 2).then_some(r.project),
        technician_id: (ship_to == 2).then_some(r.technician),
        shipping: Some(dec(2500 + vendor as i64 * 500, 2)),
        memo: Some("Demo order".to_owned()),
        lines: (0..lines)
            .map(|i| NewLine {
                product_id: Some(ids.products[(first_product + i * 3) % ids.products.len()]),
                location_id: ids.locations[ship_to],
                quantity: dec(5 + (i as i64) * 5, 0),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A receipt of `share` percent of each line (rounded to whole units; lines rounding to
/// nothing are left out).
fn receive_part(po_id: i32, lines: &[purchase_order_line::Model], share: i64) -> NewReceipt {
    let lines: Vec<ReceiveLine> = lines
        .iter()
        .map(|l| ReceiveLine {
            line_id: l.id,
            quantity: (l.quantity.to_decimal() * dec(share, 2)).round(),
            ..Default::default()
        })
        .filter(|l| !l.quantity.is_zero())
        .collect();
    NewReceipt {
        purchase_order_id: po_id,
        lines,
        packing_slip: Some(format!("PS-{po_id}")),
        ..Default::default()
    }
}

/// Purchase orders: one per vendor and status the lifecycle can reach from here.
async fn seed_orders(uc: UseCase<'_>, ids: &Demo) -> Result<(), ServiceError> {
    let order = |vendor, first, ship_to, lines| demo_order(ids, vendor, first, ship_to, lines);
    // PENDING
    purchasing::create(uc, order(0, 0, 0, 3)).await?;
    purchasing::create(uc, order(3, 30, 1, 2)).await?;
    // SUBMITTED
    for (vendor, first, ship_to) in [(1, 10, 0), (2, 20, 1), (0, 5, 2)] {
        let po = purchasing::create(uc, order(vendor, first, ship_to, 4)).await?;
        purchasing::submit(uc, po.id, None).await?;
    }
    // CANCELED
    let po = purchasing::create(uc, order(2, 40, 0, 2)).await?;
    purchasing::cancel(uc, po.id, None).await?;
    // SUBMITTED and exported to accounting
    let po = purchasing::create(uc, order(3, 33, 0, 2)).await?;
    let po = purchasing::submit(uc, po.id, None).await?;
    purchasing::mark_exported(uc, po.id, None).await?;
    // PARTIALLY_RECEIVED, RECEIVED, and CLOSED with a SUBMITTED backorder.
    for (vendor, first, ship_to, share, finalize) in [
        (1, 12, 0, 50, false),
        (0, 25, 1, 100, false),
        (2, 41, 0, 60, true),
    ] {
        let po = purchasing::create(uc, order(vendor, first, ship_to, 3)).await?;
        purchasing::submit(uc, po.id, None).await?;
        let lines = purchasing::lines_of(uc.db, po.id).await?;
        receiving::receive(uc, receive_part(po.id, &lines, share)).await?;
        if finalize {
            purchasing::finalize(uc, po.id, true).await?;
        }
    }
    Ok(())
}
