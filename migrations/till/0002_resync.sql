-- Products the till held when the cloud told it to download its reference data again (its
-- feed cursor was older than the cloud keeps). Each product the new download brings is struck
-- off; what is left when the download ends is no longer in the brand's catalog and is made
-- inactive, so it cannot be sold. Empty except while such a download is under way.
CREATE TABLE resync_unseen (
    product_id INTEGER PRIMARY KEY REFERENCES product (id)
);
