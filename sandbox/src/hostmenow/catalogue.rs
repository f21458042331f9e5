//! The products the sandbox reseller account may sell.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// The six billing cycles the provider documents, in its order.
pub const BILLING_CYCLES: [&str; 6] = [
    "monthly",
    "quarterly",
    "semiannually",
    "annually",
    "biennially",
    "triennially",
];

/// Price of one billing cycle, in cents (so credit arithmetic is exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CyclePrice {
    /// One of [`BILLING_CYCLES`].
    pub cycle: &'static str,
    /// Recurring price in cents.
    pub price_cents: i64,
    /// One-off setup fee in cents.
    pub setup_fee_cents: i64,
}

/// A product of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    /// Id as `Get_Products` gives it and `selected_product` takes it.
    pub product_id: &'static str,
    /// Name shown to the reseller.
    pub product_name: &'static str,
    /// One line about the product.
    pub description: &'static str,
    /// What `GetServerName` answers for services of this product.
    pub server_name: &'static str,
    /// Disk quota of a new service, in MB (0 = unlimited).
    pub disk_limit_mb: u64,
    /// Monthly bandwidth quota of a new service, in MB (0 = unlimited).
    pub bandwidth_limit_mb: u64,
    /// The cycles this product is sold on, in the provider's order.
    pub cycles: &'static [CyclePrice],
}

/// `server_name` of cPanel products, the only ones with usage figures and SSO.
pub const CPANEL: &str = "cPanel";
/// `server_name` of Plesk products.
pub const PLESK: &str = "Plesk";

const fn cycle(cycle: &'static str, price_cents: i64, setup_fee_cents: i64) -> CyclePrice {
    CyclePrice {
        cycle,
        price_cents,
        setup_fee_cents,
    }
}

/// Every product assigned to the sandbox reseller group.
pub const PRODUCTS: &[Product] = &[
    Product {
        product_id: "101",
        product_name: "Shared Hosting - Basic",
        description: "Perfect for small websites",
        server_name: CPANEL,
        disk_limit_mb: 5000,
        bandwidth_limit_mb: 10000,
        cycles: &[
            cycle("monthly", 999, 0),
            cycle("quarterly", 2799, 0),
            cycle("annually", 9999, 0),
        ],
    },
    Product {
        product_id: "102",
        product_name: "Shared Hosting - Pro",
        description: "More space and unlimited bandwidth for growing websites",
        server_name: CPANEL,
        disk_limit_mb: 20000,
        bandwidth_limit_mb: 0,
        cycles: &[
            cycle("monthly", 1999, 0),
            cycle("quarterly", 5699, 0),
            cycle("semiannually", 10999, 0),
            cycle("annually", 19999, 0),
            cycle("biennially", 37999, 0),
            cycle("triennially", 53999, 0),
        ],
    },
    Product {
        product_id: "201",
        product_name: "Plesk Starter",
        description: "Windows hosting on Plesk",
        server_name: PLESK,
        disk_limit_mb: 10000,
        bandwidth_limit_mb: 50000,
        cycles: &[cycle("monthly", 1499, 500), cycle("annually", 14999, 0)],
    },
];

/// The product with this id, if the reseller group has it.
pub fn product(product_id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.product_id == product_id)
}

impl Product {
    /// The price of `cycle`, if the product is sold on it.
    pub fn price(&self, cycle: &str) -> Option<CyclePrice> {
        self.cycles.iter().copied().find(|c| c.cycle == cycle)
    }
}

/// Formats cents as the provider writes money: `"9.99"`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// One entry of the `Get_Products` answer, in the document's shape.
#[derive(Serialize)]
pub struct ProductListing {
    product_id: &'static str,
    product_name: &'static str,
    description: &'static str,
    billing_cycles: CycleListing,
}

/// `billing_cycles` keeps the provider's cycle order (a JSON map would sort).
struct CycleListing(&'static [CyclePrice]);

impl Serialize for CycleListing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry {
            price: String,
            setup_fee: String,
        }
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for price in self.0 {
            let entry = Entry {
                price: money(price.price_cents),
                setup_fee: money(price.setup_fee_cents),
            };
            map.serialize_entry(price.cycle, &entry)?;
        }
        map.end()
    }
}

impl From<&'static Product> for ProductListing {
    fn from(product: &'static Product) -> ProductListing {
        ProductListing {
            product_id: product.product_id,
            product_name: product.product_name,
            description: product.description,
            billing_cycles: CycleListing(product.cycles),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(999), "9.99");
        assert_eq!(money(50000), "500.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-150), "-1.50");
    }

    #[test]
    fn every_cycle_is_a_documented_one() {
        for product in PRODUCTS {
            for price in product.cycles {
                assert!(BILLING_CYCLES.contains(&price.cycle), "{price:?}");
            }
        }
    }

    #[test]
    fn listing_keeps_the_document_shape() {
        let listing = serde_json::to_value(ProductListing::from(&PRODUCTS[0])).unwrap();
        assert_eq!(
            listing,
            serde_json::json!({
                "product_id": "101",
                "product_name": "Shared Hosting - Basic",
                "description": "Perfect for small websites",
                "billing_cycles": {
                    "monthly": {"price": "9.99", "setup_fee": "0.00"},
                    "quarterly": {"price": "27.99", "setup_fee": "0.00"},
                    "annually": {"price": "99.99", "setup_fee": "0.00"}
                }
            })
        );
    }
}
