def execute_command(image):
    # Question: Are there at least four shapes? (signs do not count as shapes)
    image_patch = ImagePatch(image)
    shape_patches = image_patch.find("shape")
    if len(shape_patches) >= 5:
        return "yes"
    if len(shape_patches) in [3, 4]:
        # A close call: overlapping shapes can merge into one box and clutter can
        # look like a shape, so ask for a count as a second opinion
        count = coerce_to_numeric(image_patch.simple_query("How many shapes are there?"))
        if count >= 4 and len(shape_patches) >= 4:
            return "yes"
        if count >= 4 or len(shape_patches) >= 4:
            # the two disagree: count again, the small and the large shapes apart
            small_patches = image_patch.find("small shape")
            large_patches = image_patch.find("large shape")
            return bool_to_yesno(len(small_patches) + len(large_patches) >= 4)
    return "no"
