def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: What color is the star?
    # Answer with a color name, or "N/A" if there is no star in the image.
    image_patch = ImagePatch(image)
    star_patches = image_patch.find("star")
    if len(star_patches) == 0:
        # The detector may miss a small or faded star: ask before giving up
        if image_patch.simple_query("Is there a star?") == "yes":
            return image_patch.simple_query("What color is the star?")
        return "N/A"
    star_patch = star_patches[0]
    return star_patch.simple_query("What color is the star?")
